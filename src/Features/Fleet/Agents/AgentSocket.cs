using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Agents;

/// <summary>
/// <c>GET /ws/agent</c> (the upstream's agent gateway, reference sindri.md §7.2): the WebSocket an instance's agent
/// holds. Authenticated like any route (API key in <c>Authorization: Bearer</c> / <c>X-Api-Key</c>, or a single-use
/// <c>?ticket=</c>), the instance named by <c>X-Instance-ID</c> (its id or name; an unknown one is closed with 1008).
/// The agent sends <c>heartbeat</c>, <c>metrics</c>, <c>log:line</c>, <c>log:batch</c>, <c>event</c>,
/// <c>command:result</c> and <c>backup:result</c> (Mimir's or Draupnir's envelope); each goes through the same request
/// a REST client would send and is answered with an <c>error</c> message when refused. The service sends
/// <c>log:subscribe</c> on connect, <c>heartbeat:pong</c>, and <c>command:dispatch</c> / <c>backup:request</c> raised
/// for this instance on any replica. A newer socket for the same instance replaces this one (close 1001), and so does
/// the replica stopping (SIGTERM: close 1001 "server shutting down", so the agent reconnects to another replica at
/// once instead of holding the shutdown open).
/// </summary>
public static class AgentSocket
{
    public const string InstanceHeader = "X-Instance-ID";

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/ws/agent", HandleAsync)
                .RequirePermission(Permissions.TelemetryIngest)
                .WithName(nameof(AgentSocket))
                .WithTags(FleetRoutes.Agents)
                .WithSummary("Agent WebSocket: heartbeats, metrics, logs, events and command results" + FleetRoutes.BeyondInventory)
                .WithDescription("The upstream's agent gateway (protocol 1.0). Requires a WebSocket upgrade and the X-Instance-ID header.")
                .ProducesErrors(400, 401, 403);

        private static async Task HandleAsync(
            HttpContext context, IMediator mediator, DbSession db, RequestContext request, EventHub hub, IServiceScopeFactory scopes, IConfiguration configuration,
            ILoggerFactory loggers, IHostApplicationLifetime lifetime)
        {
            if (!context.WebSockets.IsWebSocketRequest)
            {
                throw new BadRequestException("This route takes a WebSocket upgrade from an instance's agent");
            }

            var reference = context.Request.Headers[InstanceHeader].ToString();
            if (string.IsNullOrWhiteSpace(reference))
            {
                throw BadRequestException.ForField(InstanceHeader, $"The {InstanceHeader} header must name the instance");
            }

            var found = await mediator.Send(new FindAgentInstance.Query(reference), context.RequestAborted);
            // The lookup may have used the read replica: the writes below open a primary connection of their own.
            await db.DisposeAsync();
            if (found is null)
            {
                using var refused = await context.WebSockets.AcceptWebSocketAsync();
                await refused.CloseAsync(WebSocketCloseStatus.PolicyViolation, "Unknown instance ID", context.RequestAborted);
                return;
            }

            var options = new AgentSession.Options(
                configuration.GetValue("Fleet:Agents:MaxMessageBytes", 4 << 20),
                TimeSpan.FromSeconds(configuration.GetValue("Fleet:Agents:KeepAliveSeconds", 20)));
            // Subscribed before the connection is recorded, so no command dispatched to it is missed.
            await using var session = new AgentSession(
                found, Guid.CreateVersion7(), request, scopes, hub, options, loggers.CreateLogger(typeof(AgentSocket).FullName!), context.RequestAborted);
            await mediator.Send(new ConnectAgent.Command(found.Id, session.ConnectionId, hub.ReplicaId), context.RequestAborted);
            // The socket lives long: give the request's connection back to the pool now.
            await db.DisposeAsync();
            using var socket = await context.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext { KeepAliveInterval = options.KeepAlive });
            await session.RunAsync(socket, lifetime.ApplicationStopping);
        }
    }
}

/// <summary>One agent connection: the receive loop (agent → service) and the forward loop (event hub → agent).</summary>
internal sealed class AgentSession : IAsyncDisposable
{
    private readonly FindAgentInstance.Found _instance;
    private readonly Caller _caller;
    private readonly string? _ipAddress;
    private readonly string? _requestId;
    private readonly IServiceScopeFactory _scopes;
    private readonly Options _options;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop;
    private readonly IAsyncEnumerator<HubMessage> _outbound;
    private readonly SemaphoreSlim _sending = new(1, 1);
    private Task<bool> _nextOutbound;
    private WebSocket? _socket;
    private string _closeReason = "closed";

    public AgentSession(
        FindAgentInstance.Found instance, Guid connectionId, RequestContext request, IServiceScopeFactory scopes, EventHub hub, Options options, ILogger logger,
        CancellationToken aborted)
    {
        _instance = instance;
        ConnectionId = connectionId;
        _caller = request.RequiredCaller;
        _ipAddress = request.IpAddress;
        _requestId = request.RequestId;
        _scopes = scopes;
        _options = options;
        _logger = logger;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        _outbound = hub.SubscribeAsync($"fleet.agent.{instance.Id}", _stop.Token).GetAsyncEnumerator(_stop.Token);
        // The first MoveNextAsync registers the subscription at once.
        _nextOutbound = _outbound.MoveNextAsync().AsTask();
    }

    public sealed record Options(int MaxMessageBytes, TimeSpan KeepAlive);

    public Guid ConnectionId { get; }

    public async Task RunAsync(WebSocket socket, CancellationToken shutdown)
    {
        _socket = socket;
        _logger.LogInformation("Agent of instance {Instance} connected ({Connection})", _instance.Name, ConnectionId);
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // A registration, not Task.Delay(infinite, token): it is released when this connection ends.
        await using var onShutdown = shutdown.Register(() => stopping.TrySetResult());
        try
        {
            await SendAsync(AgentProtocol.Envelope("log:subscribe", new { paths = new[] { "*" } }));
            var receiving = ReceiveAsync();
            var forwarding = ForwardAsync();
            var first = await Task.WhenAny(receiving, forwarding, stopping.Task);
            if (first == stopping.Task)
            {
                _closeReason = "server shutting down";
                await CloseQuietlyAsync(WebSocketCloseStatus.EndpointUnavailable, "Server shutting down; reconnect");
            }

            if (first != receiving)
            {
                // The service closed the socket: give the agent a moment to answer the close frame.
                await Task.WhenAny(receiving, Task.Delay(TimeSpan.FromSeconds(2)));
            }

            await _stop.CancelAsync();
            await Task.WhenAll(Quietly(receiving), Quietly(forwarding));
        }
        finally
        {
            await SendRequestAsync(new DisconnectAgent.Command(_instance.Id, ConnectionId, _closeReason), CancellationToken.None);
            _logger.LogInformation("Agent of instance {Instance} disconnected ({Connection}): {Reason}", _instance.Name, ConnectionId, _closeReason);
        }
    }

    private async Task CloseQuietlyAsync(WebSocketCloseStatus status, string description)
    {
        if (!await _sending.WaitAsync(TimeSpan.FromSeconds(2)))
        {
            return; // A send is stuck on a slow agent: the connection is aborted instead.
        }

        try
        {
            if (_socket!.State is WebSocketState.Open or WebSocketState.CloseReceived)
            {
                await _socket.CloseOutputAsync(status, description, CancellationToken.None);
            }
        }
        catch (Exception exception) when (exception is WebSocketException or IOException or ObjectDisposedException)
        {
            // The agent is already gone.
        }
        finally
        {
            _sending.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Quietly(_nextOutbound);
        await _outbound.DisposeAsync();
        _stop.Dispose();
        _sending.Dispose();
    }

    private async Task ReceiveAsync()
    {
        var socket = _socket!;
        var buffer = new byte[16 * 1024];
        using var message = new MemoryStream();
        while (socket.State == WebSocketState.Open && !_stop.IsCancellationRequested)
        {
            message.SetLength(0);
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    _closeReason = result.CloseStatusDescription is { Length: > 0 } description ? description : "closed by the agent";
                    if (socket.State == WebSocketState.CloseReceived)
                    {
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    }

                    return;
                }

                message.Write(buffer, 0, result.Count);
                if (message.Length > _options.MaxMessageBytes)
                {
                    _closeReason = "message too big";
                    await socket.CloseOutputAsync(WebSocketCloseStatus.MessageTooBig, $"Messages are limited to {_options.MaxMessageBytes} bytes", CancellationToken.None);
                    return;
                }
            }
            while (!result.EndOfMessage);

            if (result.MessageType != WebSocketMessageType.Text)
            {
                await SendErrorAsync("Binary frames are not part of the agent protocol: send JSON text", null, null);
                continue;
            }

            await HandleAsync(Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length));
        }
    }

    private async Task HandleAsync(string text)
    {
        var message = AgentProtocol.Parse(text);
        if (message is null)
        {
            await SendErrorAsync("A message is a JSON object with a \"type\"", null, null);
            return;
        }

        var id = _instance.Id;
        var payload = message.Payload;
        try
        {
            switch (message.Type)
            {
                case "heartbeat":
                    var beat = await SendRequestAsync(new RecordAgentHeartbeat.Command(id, AgentProtocol.Heartbeat(payload)), _stop.Token);
                    await SendAsync(AgentProtocol.Envelope("heartbeat:pong", new { ok = true, status = beat.Status, received_at = beat.ReceivedAt }, message.CorrelationId));
                    break;
                case "metrics":
                    await SendRequestAsync(new RecordAgentMetrics.Command(id, AgentProtocol.Metrics(payload)), _stop.Token);
                    break;
                case "log:line":
                    await SendRequestAsync(new IngestAgentLogs.Command(id, [AgentProtocol.LogLine(payload, id)]), _stop.Token);
                    break;
                case "log:batch":
                    foreach (var chunk in AgentProtocol.LogBatch(payload, id).Chunk(IngestAgentLogs.MaxEntries))
                    {
                        await SendRequestAsync(new IngestAgentLogs.Command(id, chunk), _stop.Token);
                    }

                    break;
                case "event":
                    await SendRequestAsync(new RecordAgentEvent.Command(id, AgentProtocol.EventType(payload), payload.ValueKind == JsonValueKind.Object ? payload : default), _stop.Token);
                    break;
                case "command:result":
                    var executionId = AgentProtocol.Text(payload, "command_id", "commandId") ?? message.CorrelationId;
                    await SendRequestAsync(
                        new RecordCommandResult.Command(
                            id,
                            Guid.TryParse(executionId, out var execution) ? execution : Guid.Empty,
                            AgentProtocol.Integer(payload, "exit_code", "exitCode"),
                            AgentProtocol.Text(payload, "stdout"),
                            AgentProtocol.Text(payload, "stderr"),
                            AgentProtocol.Integer(payload, "duration_ms", "durationMs"),
                            AgentProtocol.Text(payload, "error")),
                        _stop.Token);
                    break;
                case "backup:result":
                    await SendRequestAsync(
                        new RecordBackupResult.Command(
                            id,
                            Guid.TryParse(AgentProtocol.Text(payload, "backup_id", "backupId"), out var backup) ? backup : Guid.Empty,
                            AgentProtocol.Text(payload, "status")?.ToLowerInvariant(),
                            AgentProtocol.Integer(payload, "size_bytes", "sizeBytes"),
                            AgentProtocol.Text(payload, "location"),
                            AgentProtocol.Text(payload, "error")),
                        _stop.Token);
                    break;
                case "heartbeat:pong" or "pong":
                    break;
                default:
                    await SendErrorAsync($"Unsupported message type '{message.Type}'", message.Type, message.CorrelationId);
                    break;
            }
        }
        catch (ValidationException validation)
        {
            var details = validation.Errors.GroupBy(failure => failure.PropertyName).ToDictionary(group => group.Key, group => group.Select(failure => failure.ErrorMessage).ToArray());
            await SendErrorAsync("Validation failed", message.Type, message.CorrelationId, details);
        }
        catch (ApiException refused)
        {
            await SendErrorAsync(refused.Message, message.Type, message.CorrelationId);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _logger.LogError(exception, "Agent message {Type} of instance {Instance} failed", message.Type, _instance.Name);
            await SendErrorAsync("The message could not be processed", message.Type, message.CorrelationId);
        }
    }

    private async Task ForwardAsync()
    {
        while (await _nextOutbound)
        {
            var data = _outbound.Current.Data;
            _nextOutbound = _outbound.MoveNextAsync().AsTask();
            switch (AgentProtocol.Text(data, "kind"))
            {
                case "replace" when AgentProtocol.Text(data, "connectionId") is { } newer && Guid.TryParse(newer, out var newerId) && newerId != ConnectionId:
                    _closeReason = "replaced by a newer connection";
                    await _socket!.CloseOutputAsync(WebSocketCloseStatus.EndpointUnavailable, "Replaced by a newer connection", CancellationToken.None);
                    return;
                case "close":
                    _closeReason = AgentProtocol.Text(data, "reason") ?? "closed by the service";
                    await _socket!.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, _closeReason, CancellationToken.None);
                    return;
                case "command":
                    var env = data.TryGetProperty("env", out var variables) && variables.ValueKind == JsonValueKind.Object
                        ? variables.EnumerateObject().Select(variable => $"{variable.Name}={variable.Value.GetString()}").ToArray()
                        : [];
                    await SendAsync(AgentProtocol.Envelope(
                        "command:dispatch",
                        new Dictionary<string, object?>
                        {
                            ["command_id"] = AgentProtocol.Text(data, "commandId"),
                            ["command"] = AgentProtocol.Text(data, "command"),
                            ["args"] = data.TryGetProperty("args", out var args) ? args : default(JsonElement?),
                            ["env"] = env,
                            ["working_dir"] = AgentProtocol.Text(data, "workingDir"),
                            ["timeout_ms"] = AgentProtocol.Integer(data, "timeoutMs"),
                            ["script"] = AgentProtocol.Text(data, "script"),
                            ["interpreter"] = AgentProtocol.Text(data, "interpreter"),
                        },
                        AgentProtocol.Text(data, "commandId")));
                    break;
                case "backup":
                    await SendAsync(AgentProtocol.Envelope(
                        "backup:request",
                        new
                        {
                            backup_id = AgentProtocol.Text(data, "backupId"),
                            label = AgentProtocol.Text(data, "label"),
                            compression = AgentProtocol.Text(data, "compression"),
                        }));
                    break;
            }
        }
    }

    private async Task<T> SendRequestAsync<T>(IRequest<T> request, CancellationToken cancellationToken)
    {
        await using var scope = _scopes.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<RequestContext>();
        context.Caller = _caller;
        context.IpAddress = _ipAddress;
        context.RequestId = _requestId;
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request, cancellationToken);
    }

    private Task SendErrorAsync(string text, string? type, string? correlationId, IReadOnlyDictionary<string, string[]>? details = null) =>
        SendAsync(AgentProtocol.Envelope("error", new { message = text, ref_type = type, details }, correlationId));

    private async Task SendAsync(string text)
    {
        var socket = _socket!;
        await _sending.WaitAsync(_stop.Token);
        try
        {
            if (socket.State == WebSocketState.Open)
            {
                await socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, _stop.Token);
            }
        }
        finally
        {
            _sending.Release();
        }
    }

    private static async Task Quietly(Task task)
    {
        try
        {
            await task;
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
    }
}
