using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Features.GitOps;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.GitOps;

/// <summary>The background watcher, its history and the live stream over SSE and WebSocket.</summary>
public sealed class FluxLiveEventsTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    private FluxWatcher Watcher => Fixture.Services.GetRequiredService<FluxWatcher>();

    public override async Task DisposeAsync()
    {
        await Watcher.StopAllAsync();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task A_revision_change_made_in_the_cluster_is_recorded_and_streamed()
    {
        var cluster = await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        (await Watcher.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        Watcher.Watching.ShouldContain(cluster);
        await WaitUntilAsync(async () => await Fixture.ScalarAsync<long>("SELECT count(*) FROM gitops.resource_states") == 19 && Api.Store.WatcherCount == 13);

        var initial = await Fixture.QueryAsync<(string Kind, string Name, string Status, string? Revision)>(
            "SELECT resource_type, name, status, revision FROM gitops.reconciliation_history WHERE trigger_type = 'automatic'");
        initial.Count.ShouldBe(16, "every object with a settled Ready condition, once");
        initial.ShouldContain(("Kustomization", "infrastructure", "failure", "main@sha1:0b6f1d2c3e4a5968778695a4b3c2d1e0f9a8b7c6"));

        using var stream = await OpenStreamAsync(viewer);
        var connected = await stream.NextAsync(frame => true);
        connected.GetProperty("type").GetString().ShouldBe("CONNECTED");
        connected.GetProperty("clusterId").GetGuid().ShouldBe(cluster);
        connected.GetProperty("message").GetString().ShouldBe("Connected to event stream for cluster: prod");

        Api.Store.Update("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps", obj =>
        {
            obj["status"]!["lastAppliedRevision"] = "main@sha1:9999999999999999999999999999999999999999";
            obj["status"]!["lastAttemptedRevision"] = "main@sha1:9999999999999999999999999999999999999999";
            obj["status"]!["conditions"]![0]!["message"] = "Applied revision: main@sha1:9999999999999999999999999999999999999999";
        });

        var modified = await stream.NextAsync(frame => frame.GetProperty("type").GetString() == "MODIFIED");
        modified.GetProperty("resourceType").GetString().ShouldBe("Kustomization");
        modified.GetProperty("resource").GetProperty("metadata").GetProperty("name").GetString().ShouldBe("apps");
        modified.GetProperty("resource").GetProperty("status").GetProperty("lastAppliedRevision").GetString().ShouldBe("main@sha1:9999999999999999999999999999999999999999");
        var recorded = await Fixture.QueryAsync<(string? PreviousRevision, string Status, string? ReadyReason, bool HasSnapshot)>(
            "SELECT previous_revision, status, ready_reason, spec_snapshot IS NOT NULL FROM gitops.reconciliation_history WHERE revision = 'main@sha1:9999999999999999999999999999999999999999'");
        recorded.Single().ShouldBe(("main@sha1:4d7e2b9c3f1a8e6d5c4b3a29180716253443526f", "success", "ReconciliationSucceeded", true));

        Api.Store.Remove("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps");
        var deleted = await stream.NextAsync(frame => frame.GetProperty("type").GetString() == "DELETED");
        deleted.GetProperty("resource").GetProperty("metadata").GetProperty("name").GetString().ShouldBe("apps");
        await WaitUntilAsync(async () => await Fixture.ScalarAsync<long>("SELECT count(*) FROM gitops.resource_states WHERE name = 'apps' AND resource_type = 'Kustomization'") == 0);
    }

    [Fact]
    public async Task A_ready_transition_to_false_is_a_failure_and_nothing_is_recorded_twice()
    {
        await RegisterClusterAsync();
        await Watcher.TryRunAsync(CancellationToken.None);
        await WaitUntilAsync(async () => await Fixture.ScalarAsync<long>("SELECT count(*) FROM gitops.resource_states") == 19 && Api.Store.WatcherCount == 13);

        Api.Store.Update("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo", obj =>
        {
            obj["status"]!["conditions"]![0]!["status"] = "False";
            obj["status"]!["conditions"]![0]!["reason"] = "UpgradeFailed";
            obj["status"]!["conditions"]![0]!["message"] = "Helm upgrade failed: timed out waiting for the condition";
        });
        Api.Store.Update("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo", obj => obj["metadata"]!["labels"] = new JsonObject { ["team"] = "a" });

        await WaitUntilAsync(async () => await Fixture.ScalarAsync<long>("SELECT count(*) FROM gitops.reconciliation_history WHERE name = 'podinfo' AND resource_type = 'HelmRelease' AND status = 'failure'") == 1);
        var failure = (await Fixture.QueryAsync<(string? ErrorMessage, string? ReadyReason)>(
            "SELECT error_message, ready_reason FROM gitops.reconciliation_history WHERE status = 'failure' AND name = 'podinfo'")).Single();
        failure.ShouldBe(("Helm upgrade failed: timed out waiting for the condition", "UpgradeFailed"));
        await WaitUntilAsync(async () => await Fixture.ScalarAsync<string>("SELECT resource_version FROM gitops.resource_states WHERE name = 'podinfo' AND resource_type = 'HelmRelease'")
            == Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo")!["metadata"]!["resourceVersion"]!.GetValue<string>());
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM gitops.reconciliation_history WHERE name = 'podinfo' AND resource_type = 'HelmRelease'")).ShouldBe(2, "a label change is not a reconciliation");
    }

    [Fact]
    public async Task A_second_replica_does_not_watch_a_cluster_already_watched()
    {
        var cluster = await RegisterClusterAsync();
        await using var otherReplica = new FluxWatcherHarness(Fixture);
        await Watcher.TryRunAsync(CancellationToken.None);

        await otherReplica.Watcher.RunOnceAsync(otherReplica.Scope, CancellationToken.None);

        Watcher.Watching.ShouldContain(cluster);
        otherReplica.Watcher.Watching.ShouldBeEmpty();
    }

    [Fact]
    public async Task The_stream_carries_hub_events_heartbeats_and_needs_a_cluster_wide_policy()
    {
        var cluster = await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        var hub = Fixture.Services.GetRequiredService<EventHub>();
        await hub.Listening;

        using var stream = await OpenStreamAsync(viewer);
        (await stream.NextAsync(frame => true)).GetProperty("type").GetString().ShouldBe("CONNECTED");
        await hub.PublishAsync(FluxWatcher.Topic(cluster), new { type = "MODIFIED", resourceType = "GitRepository", resource = new { metadata = new { name = "x", @namespace = "apps" } } }, CancellationToken.None);

        (await stream.NextAsync(frame => frame.GetProperty("type").GetString() == "MODIFIED")).GetProperty("resource").GetProperty("metadata").GetProperty("name").GetString().ShouldBe("x");
        (await stream.NextAsync(frame => frame.GetProperty("type").GetString() == "HEARTBEAT")).GetProperty("clusterId").GetGuid().ShouldBe(cluster);
        stream.Response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        stream.RawLines.ShouldAllBe(line => line.Length == 0 || line.StartsWith("data: ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Streams_are_capped_per_session()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        var open = new List<LiveStream>();
        try
        {
            for (var index = 0; index < 3; index++)
            {
                var stream = await OpenStreamAsync(viewer);
                open.Add(stream);
                await stream.NextAsync(frame => true);
            }

            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events");
            request.Headers.Accept.ParseAdd("text/event-stream");
            var refused = await viewer.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);

            (await refused.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests)).GetProperty("message").GetString().ShouldBe("Too many live connections for this session (max 3)");
            refused.Headers.RetryAfter.ShouldNotBeNull();
        }
        finally
        {
            open.ForEach(stream => stream.Dispose());
        }
    }

    [Fact]
    public async Task Streams_are_capped_per_user_across_sessions_and_closing_one_frees_a_slot()
    {
        await RegisterClusterAsync();
        var (first, user) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        using var second = await Fixture.ClientAsAsync(user);
        using var third = await Fixture.ClientAsAsync(user);
        var socketKey = await Fixture.CreateApiKeyAsync(user);
        var socketClient = Fixture.Factory.Server.CreateWebSocketClient();
        socketClient.ConfigureRequest = request => request.Headers.Authorization = $"Bearer {socketKey}";
        var open = new List<LiveStream>();
        try
        {
            // Five live connections from three API keys (three sessions): three streams, one stream, one socket.
            foreach (var client in new[] { first, first, first, second })
            {
                var stream = await OpenStreamAsync(client);
                open.Add(stream);
                await stream.NextAsync(frame => true);
            }

            using var socket = await socketClient.ConnectAsync(new Uri("ws://localhost/api/v1/ws?cluster=prod"), CancellationToken.None);
            (await ReceiveAsync(socket)).GetProperty("type").GetString().ShouldBe("CONNECTED");

            using var refused = await TryOpenStreamAsync(third);

            var body = await refused.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests);
            body.GetProperty("message").GetString().ShouldBe("Too many live connections for this user (max 5)");
            refused.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(5));

            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            var admitted = await OpenOnceFreeAsync(third);
            open.Add(admitted);
            (await admitted.NextAsync(frame => true)).GetProperty("type").GetString().ShouldBe("CONNECTED");
            using var full = await TryOpenStreamAsync(second);
            (await full.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests)).GetProperty("message").GetString().ShouldBe("Too many live connections for this user (max 5)");
        }
        finally
        {
            open.ForEach(stream => stream.Dispose());
        }
    }

    [Fact]
    public async Task The_websocket_carries_the_same_events()
    {
        var cluster = await RegisterClusterAsync();
        var (_, user) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        var key = await Fixture.CreateApiKeyAsync(user);
        var hub = Fixture.Services.GetRequiredService<EventHub>();
        await hub.Listening;
        var client = Fixture.Factory.Server.CreateWebSocketClient();
        client.ConfigureRequest = request => request.Headers.Authorization = $"Bearer {key}";

        using var socket = await client.ConnectAsync(new Uri("ws://localhost/api/v1/ws?cluster=prod"), CancellationToken.None);
        var connected = await ReceiveAsync(socket);
        await hub.PublishAsync(FluxWatcher.Topic(cluster), new { type = "ADDED", resourceType = "Kustomization", resource = new { metadata = new { name = "new", @namespace = "flux-system" } } }, CancellationToken.None);
        JsonElement added;
        do
        {
            added = await ReceiveAsync(socket);
        }
        while (added.GetProperty("type").GetString() == "HEARTBEAT");

        connected.GetProperty("type").GetString().ShouldBe("CONNECTED");
        added.GetProperty("type").GetString().ShouldBe("ADDED");
        added.GetProperty("resource").GetProperty("metadata").GetProperty("name").GetString().ShouldBe("new");
        await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    [Fact]
    public async Task The_websocket_route_refuses_plain_http_and_anonymous_callers()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        (await (await viewer.GetAsync("/api/v1/ws")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString()!.ShouldContain("WebSocket upgrade");
        await (await Client.GetAsync("/api/ws")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var anonymous = Fixture.Factory.Server.CreateWebSocketClient();
        await Should.ThrowAsync<Exception>(() => anonymous.ConnectAsync(new Uri("ws://localhost/api/v1/ws"), CancellationToken.None));
    }

    private static async Task<JsonElement> ReceiveAsync(WebSocket socket)
    {
        using var cts = new CancellationTokenSource(Patience);
        var buffer = new byte[64 * 1024];
        var result = await socket.ReceiveAsync(buffer, cts.Token);
        return JsonDocument.Parse(Encoding.UTF8.GetString(buffer, 0, result.Count)).RootElement;
    }

    private static async Task<LiveStream> OpenStreamAsync(HttpClient client)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK, await Peek(response));
        return new LiveStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    private static async Task<HttpResponseMessage> TryOpenStreamAsync(HttpClient client)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events");
        request.Headers.Accept.ParseAdd("text/event-stream");
        return await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>Opens a stream as soon as the server has let go of a closed connection's slot.</summary>
    private static async Task<LiveStream> OpenOnceFreeAsync(HttpClient client)
    {
        var deadline = DateTime.UtcNow + Patience;
        var response = await TryOpenStreamAsync(client);
        while (response.StatusCode == HttpStatusCode.TooManyRequests && DateTime.UtcNow < deadline)
        {
            response.Dispose();
            await Task.Delay(50);
            response = await TryOpenStreamAsync(client);
        }

        response.StatusCode.ShouldBe(HttpStatusCode.OK, await Peek(response));
        return new LiveStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    private static async Task<string> Peek(HttpResponseMessage response) =>
        response.IsSuccessStatusCode ? string.Empty : await response.Content.ReadAsStringAsync();

    private static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The condition did not come true in time");
            }

            await Task.Delay(50);
        }
    }

    private sealed class LiveStream(HttpResponseMessage response, StreamReader reader) : IDisposable
    {
        public HttpResponseMessage Response { get; } = response;

        public List<string> RawLines { get; } = [];

        public async Task<JsonElement> NextAsync(Func<JsonElement, bool> match)
        {
            using var cts = new CancellationTokenSource(Patience);
            while (true)
            {
                var line = await reader.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("The stream ended");
                RawLines.Add(line);
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var frame = JsonDocument.Parse(line[6..]).RootElement;
                    if (match(frame))
                    {
                        return frame;
                    }
                }
            }
        }

        public void Dispose()
        {
            reader.Dispose();
            Response.Dispose();
        }
    }

    /// <summary>A second watcher on the same database, as another replica would run it.</summary>
    private sealed class FluxWatcherHarness : IAsyncDisposable
    {
        private readonly AsyncServiceScope _scope;

        public FluxWatcherHarness(GitOpsFixture fixture)
        {
            _scope = fixture.Services.CreateAsyncScope();
            Watcher = ActivatorUtilities.CreateInstance<FluxWatcher>(fixture.Services);
        }

        public FluxWatcher Watcher { get; }

        public IServiceProvider Scope => _scope.ServiceProvider;

        public async ValueTask DisposeAsync()
        {
            await Watcher.StopAllAsync();
            await _scope.DisposeAsync();
        }
    }
}
