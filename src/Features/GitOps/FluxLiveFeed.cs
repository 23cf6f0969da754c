using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Capstan.Features.GitOps;

/// <summary>
/// The live Flux feed behind the SSE stream and the WebSocket (shared by those two routes): opens on the selected
/// cluster with a cluster-wide read policy, within the connection caps (<c>GitOps:Live:MaxPerSession</c> 3,
/// <c>GitOps:Live:MaxPerUser</c> 5, per replica; 429 beyond), subscribes to the cluster's hub topic, then sends Gyre's
/// messages: CONNECTED, the watcher's ADDED/MODIFIED/DELETED (each checked against the caller's Flux RBAC), HEARTBEAT every
/// <c>GitOps:Live:HeartbeatSeconds</c> (30), and SHUTDOWN when the server stops or the optional
/// <c>GitOps:Live:ConnectionTimeoutSeconds</c> passes.
/// </summary>
internal sealed class FluxLiveFeed : IAsyncDisposable
{
    private static readonly string ServerSessionId = Base36(new DateTimeOffset(Process.GetCurrentProcess().StartTime.ToUniversalTime()).ToUnixTimeMilliseconds());

    private readonly FluxSession _session;
    private readonly IDisposable _sessionSlot;
    private readonly IDisposable _userSlot;
    private readonly IServiceProvider _services;

    private FluxLiveFeed(FluxSession session, IDisposable sessionSlot, IDisposable userSlot, IServiceProvider services)
    {
        _session = session;
        _sessionSlot = sessionSlot;
        _userSlot = userSlot;
        _services = services;
    }

    public FluxSession Session => _session;

    public static async Task<FluxLiveFeed> OpenAsync(HttpContext context, string? cluster, CancellationToken cancellationToken)
    {
        var services = context.RequestServices;
        var configuration = services.GetRequiredService<IConfiguration>();
        var session = await services.GetRequiredService<FluxGateway>().OpenAsync(cluster, context.Request.Cookies[Infrastructure.Clusters.ClusterDirectory.CookieName], cancellationToken);
        session.Access.DemandClusterWideRead(null, session.Target);
        var slots = services.GetRequiredService<ConnectionSlots>();
        var perSession = configuration.GetValue("GitOps:Live:MaxPerSession", 3);
        var perUser = configuration.GetValue("GitOps:Live:MaxPerUser", 5);
        var sessionKey = $"live:session:{session.Caller.SessionId?.ToString() ?? session.Caller.ApiKeyId?.ToString() ?? session.Caller.UserId.ToString()}";
        var sessionSlot = slots.TryAcquire(sessionKey, perSession)
            ?? throw new TooManyRequestsException(TimeSpan.FromSeconds(5), $"Too many live connections for this session (max {perSession})");
        var userSlot = slots.TryAcquire($"live:user:{session.Caller.UserId}", perUser);
        if (userSlot is null)
        {
            sessionSlot.Dispose();
            throw new TooManyRequestsException(TimeSpan.FromSeconds(5), $"Too many live connections for this user (max {perUser})");
        }

        return new FluxLiveFeed(session, sessionSlot, userSlot, services);
    }

    /// <summary>Sends messages through <paramref name="send"/> until the client leaves, the server stops or the
    /// connection times out.</summary>
    public async Task RunAsync(Func<string, CancellationToken, Task> send, CancellationToken clientGone)
    {
        var configuration = _services.GetRequiredService<IConfiguration>();
        var clock = _services.GetRequiredService<TimeProvider>();
        var stopping = _services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        var heartbeatEvery = TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue("GitOps:Live:HeartbeatSeconds", 30)));
        var timeoutSeconds = configuration.GetValue("GitOps:Live:ConnectionTimeoutSeconds", 0);
        using var live = CancellationTokenSource.CreateLinkedTokenSource(clientGone, stopping);
        using var expiry = new CancellationTokenSource();
        if (timeoutSeconds > 0)
        {
            expiry.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
        }

        using var running = CancellationTokenSource.CreateLinkedTokenSource(live.Token, expiry.Token);
        var hub = _services.GetRequiredService<EventHub>();
        var cluster = _session.Cluster;
        await using var messages = hub.SubscribeAsync(FluxWatcher.Topic(cluster.Id), running.Token).GetAsyncEnumerator(running.Token);

        // The first MoveNext registers the subscription before CONNECTED goes out, so nothing raised after it is lost.
        var next = messages.MoveNextAsync().AsTask();
        try
        {
            await send(Json(new JsonObject
            {
                ["type"] = "CONNECTED",
                ["clusterId"] = cluster.Id.ToString(),
                ["clusterName"] = cluster.Name,
                ["serverSessionId"] = ServerSessionId,
                ["message"] = $"Connected to event stream for cluster: {cluster.Name}",
                ["timestamp"] = FluxActions.Timestamp(clock.GetUtcNow()),
            }), running.Token);
            var heartbeat = Task.Delay(heartbeatEvery, running.Token);
            while (true)
            {
                var done = await Task.WhenAny(next, heartbeat);
                if (done == heartbeat)
                {
                    await heartbeat;
                    await send(Json(new JsonObject { ["type"] = "HEARTBEAT", ["clusterId"] = cluster.Id.ToString(), ["timestamp"] = FluxActions.Timestamp(clock.GetUtcNow()) }), running.Token);
                    heartbeat = Task.Delay(heartbeatEvery, running.Token);
                    continue;
                }

                if (!await next)
                {
                    break;
                }

                if (Visible(messages.Current.Data))
                {
                    await send(messages.Current.DataText, running.Token);
                }

                next = messages.MoveNextAsync().AsTask();
            }
        }
        catch (OperationCanceledException) when (running.IsCancellationRequested)
        {
            // The client left, the server is stopping, or the connection timed out.
        }
        finally
        {
            // The subscription may only be disposed once its pending read has ended.
            await running.CancelAsync();
            try
            {
                await next;
            }
            catch (OperationCanceledException)
            {
                // Expected: the read was cancelled.
            }
        }

        if (clientGone.IsCancellationRequested)
        {
            return;
        }

        var (reason, message) = expiry.IsCancellationRequested && !stopping.IsCancellationRequested && !live.IsCancellationRequested
            ? ("connection_timeout", "Connection timeout – please reconnect")
            : ("server_shutdown", "Server is shutting down – please reconnect");
        try
        {
            await send(Json(new JsonObject { ["type"] = "SHUTDOWN", ["message"] = message, ["reason"] = reason, ["timestamp"] = FluxActions.Timestamp(clock.GetUtcNow()) }), clientGone);
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException or ObjectDisposedException)
        {
            // Nobody left to tell.
        }
    }

    public ValueTask DisposeAsync()
    {
        _userSlot.Dispose();
        _sessionSlot.Dispose();
        return ValueTask.CompletedTask;
    }

    private bool Visible(JsonElement data)
    {
        var kind = data.TryGetProperty("resourceType", out var type) ? type.GetString() : null;
        var ns = data.TryGetProperty("resource", out var resource) && resource.TryGetProperty("metadata", out var metadata) && metadata.TryGetProperty("namespace", out var space)
            ? space.GetString()
            : null;
        return _session.Access.Allows(FluxAction.Read, kind, ns, _session.Target);
    }

    private static string Json(JsonObject message) => message.ToJsonString();

    private static string Base36(long value)
    {
        const string Digits = "0123456789abcdefghijklmnopqrstuvwxyz";
        var text = string.Empty;
        do
        {
            text = Digits[(int)(value % 36)] + text;
            value /= 36;
        }
        while (value > 0);
        return text;
    }
}
