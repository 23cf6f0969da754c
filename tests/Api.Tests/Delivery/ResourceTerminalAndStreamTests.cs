using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Delivery;

/// <summary>The exec terminal (WebSocket, bridged to the fake exec server), the resource status stream, the pod-log
/// stream's validation, and a build that fails in the cluster.</summary>
public sealed class ResourceTerminalAndStreamTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private const string PodName = "kustomize-controller-7b8c9d6f4-q8w2e";

    /// <summary>The fake cluster registered as the user's cluster "prod", reached through <paramref name="server"/>.</summary>
    private async Task RegisterThroughAsync(string server, Guid owner)
    {
        var id = await RegisterClusterAsync("prod", owner);
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        var credentials = new ClusterCredentials { Kubeconfig = Api.Kubeconfig().Replace(Api.BaseUrl, server, StringComparison.Ordinal) };
        await Fixture.ExecuteAsync(
            "UPDATE clusters.clusters SET server = @Server, credentials = @Credentials WHERE id = @Id",
            new { Id = id, Server = server, Credentials = credentials.Seal(cipher, id) });
    }

    private async Task SyncAsync(HttpClient client, Guid user)
    {
        await (await client.PostAsync("/v1/api/resources/sync", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        await WaitUntilAsync(async () => await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.resource_syncs WHERE user_id = @User AND status <> 'running'", new { User = user }) == 1, "the sync");
    }

    private async Task<Guid> IdOfAsync(Guid user, string kind, string name) =>
        await Fixture.ScalarAsync<Guid>("SELECT id FROM delivery.resources WHERE user_id = @User AND kind = @Kind AND name = @Name", new { User = user, Kind = kind, Name = name });

    private WebSocketClientFor Terminal(string key) => new(Fixture, key);

    [Fact]
    public async Task The_terminal_bridges_input_output_resize_and_a_clean_exit()
    {
        await using var exec = await FakeExecServer.StartAsync(Api);
        var (client, user) = await DeveloperAsync();
        await RegisterThroughAsync(exec.BaseUrl, user.Id);
        await SyncAsync(client, user.Id);
        var pod = await IdOfAsync(user.Id, "Pod", PodName);
        var key = await Fixture.CreateApiKeyAsync(user);

        using var socket = await Terminal(key).ConnectAsync($"/v1/api/resources/{pod}/exec/terminal");
        var metadata = await ReceiveAsync(socket);
        metadata.PropertyNames().ShouldBe(["type", "data"]);
        metadata.GetProperty("type").GetString().ShouldBe("metadata");
        var target = JsonDocument.Parse(metadata.GetProperty("data").GetString()!).RootElement;
        target.PropertyNames().ShouldBe(["pod", "container", "namespace", "cluster"]);
        target.GetProperty("pod").GetString().ShouldBe(PodName);
        target.GetProperty("container").GetString().ShouldBe("manager");
        target.GetProperty("namespace").GetString().ShouldBe("flux-system");
        target.GetProperty("cluster").GetString().ShouldBe("prod");

        await SendAsync(socket, new { type = "input", data = "echo hello there\n" });
        var output = await ReceiveAsync(socket);
        output.GetProperty("type").GetString().ShouldBe("output");
        output.GetProperty("data").GetString().ShouldBe("hello there\r\n");
        await SendAsync(socket, new { type = "resize", rows = 40, cols = 120 });
        await SendAsync(socket, new { type = "input", data = "hostname\n" });
        (await ReceiveAsync(socket)).GetProperty("data").GetString().ShouldBe(PodName + "\r\n");
        exec.Resizes.ShouldBe([(80, 24), (120, 40)]);

        await SendAsync(socket, new { type = "input", data = "exit\n" });
        var close = await ReceiveAsync(socket);
        close.GetProperty("type").GetString().ShouldBe("close");
        close.GetProperty("data").GetString().ShouldBe("Terminal session completed");
        await ReceiveCloseAsync(socket);
        exec.Sessions.ShouldBe([$"flux-system/{PodName}/manager: /bin/sh"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.resource.exec' AND resource_id = @Id", new { Id = pod.ToString() })).ShouldBe(1);
    }

    [Fact]
    public async Task A_failing_shell_and_a_pod_gone_from_the_cluster_send_an_error_then_close()
    {
        await using var exec = await FakeExecServer.StartAsync(Api);
        var (client, user) = await DeveloperAsync();
        await RegisterThroughAsync(exec.BaseUrl, user.Id);
        await SyncAsync(client, user.Id);
        var pod = await IdOfAsync(user.Id, "Pod", PodName);
        var key = await Fixture.CreateApiKeyAsync(user);

        using (var socket = await Terminal(key).ConnectAsync($"/v1/api/resources/{pod}/exec/terminal?container=manager"))
        {
            (await ReceiveAsync(socket)).GetProperty("type").GetString().ShouldBe("metadata");
            await SendAsync(socket, new { type = "input", data = "false\n" });
            var error = await ReceiveAsync(socket);
            error.GetProperty("type").GetString().ShouldBe("error");
            error.GetProperty("data").GetString().ShouldBe("command terminated with non-zero exit code: exit status 1");
            (await ReceiveAsync(socket)).GetProperty("type").GetString().ShouldBe("close");
            await ReceiveCloseAsync(socket);
        }

        Api.Store.Remove("v1", "Pod", "flux-system", PodName).ShouldBeTrue();
        using (var socket = await Terminal(key).ConnectAsync($"/v1/api/resources/{pod}/exec/terminal"))
        {
            (await ReceiveAsync(socket)).GetProperty("type").GetString().ShouldBe("metadata");
            (await ReceiveAsync(socket)).GetProperty("type").GetString().ShouldBe("error");
            (await ReceiveAsync(socket)).GetProperty("data").GetString().ShouldBe("Terminal session completed");
            await ReceiveCloseAsync(socket);
        }
    }

    [Fact]
    public async Task The_terminal_refuses_plain_http_other_kinds_unknown_containers_foreign_pods_viewers_and_anonymous_callers()
    {
        await using var exec = await FakeExecServer.StartAsync(Api);
        var (client, user) = await DeveloperAsync();
        await RegisterThroughAsync(exec.BaseUrl, user.Id);
        await SyncAsync(client, user.Id);
        var pod = await IdOfAsync(user.Id, "Pod", PodName);
        var deployment = await IdOfAsync(user.Id, "Deployment", "kustomize-controller");
        var key = await Fixture.CreateApiKeyAsync(user);
        var (_, intruder) = await DeveloperAsync();
        var (viewer, viewerUser) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        (await (await client.GetAsync($"/v1/api/resources/{pod}/exec/terminal")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString()!.ShouldContain("WebSocket upgrade");
        await (await viewer.GetAsync($"/v1/api/resources/{pod}/exec/terminal")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.GetAsync($"/v1/api/resources/{pod}/exec/terminal")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

        (await RefusedAsync(key, $"/v1/api/resources/{deployment}/exec/terminal")).ShouldContain("400");
        (await RefusedAsync(key, $"/v1/api/resources/{pod}/exec/terminal?container=sidecar")).ShouldContain("400");
        (await RefusedAsync(key, $"/v1/api/resources/{Guid.CreateVersion7()}/exec/terminal")).ShouldContain("404");
        (await RefusedAsync(await Fixture.CreateApiKeyAsync(intruder), $"/v1/api/resources/{pod}/exec/terminal")).ShouldContain("404");
        (await RefusedAsync(await Fixture.CreateApiKeyAsync(viewerUser), $"/v1/api/resources/{pod}/exec/terminal")).ShouldContain("403");
        (await RefusedAsync(null, $"/v1/api/resources/{pod}/exec/terminal")).ShouldContain("401");
        exec.Sessions.ShouldBeEmpty();
    }

    private async Task<string> RefusedAsync(string? key, string url)
    {
        var error = await Should.ThrowAsync<Exception>(() => Terminal(key ?? string.Empty).ConnectAsync(url));
        return error.Message;
    }

    [Fact]
    public async Task The_status_stream_reports_a_status_change_and_completes_when_the_object_is_deleted()
    {
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("prod", user.Id);
        await SyncAsync(client, user.Id);
        var pod = await IdOfAsync(user.Id, "Pod", PodName);

        using var stream = await OpenSseAsync(client, $"/v1/api/resources/{pod}/stream");
        var metadata = await stream.NextAsync(Patience);
        metadata!.Event.ShouldBe("metadata");
        foreach (var field in new[] { "id", "name", "namespace", "type", "status", "spec" })
        {
            metadata.Json.PropertyNames().ShouldContain(field);
        }

        metadata.Json.GetProperty("id").GetGuid().ShouldBe(pod);
        metadata.Json.GetProperty("type").GetString().ShouldBe("Pod");
        await Task.Delay(300);
        Api.Store.Update("v1", "Pod", "flux-system", PodName, obj => obj["status"]!["phase"] = "Failed");
        var update = await stream.NextAsync("status_update", Patience);
        update.Json.PropertyNames().ShouldBe(["resource_id", "type", "status"]);
        update.Json.GetProperty("resource_id").GetGuid().ShouldBe(pod);
        update.Json.GetProperty("status").GetString()!.ToLowerInvariant().ShouldBe("failed");

        Api.Store.Remove("v1", "Pod", "flux-system", PodName);
        (await stream.NextAsync("complete", Patience)).Data.ShouldContain(PodName);
        (await stream.NextAsync(Patience)).ShouldBeNull("the stream ends after complete");
        (await (await client.GetAsync($"/v1/api/resources/{Guid.CreateVersion7()}/stream")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Resource not found");
    }

    [Fact]
    public async Task The_pod_log_stream_validates_container_and_since_and_404s_unknown_ids()
    {
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("prod", user.Id);
        await SyncAsync(client, user.Id);
        var pod = await IdOfAsync(user.Id, "Pod", PodName);

        (await (await client.GetAsync($"/v1/api/resources/{pod}/logs/stream?container=sidecar")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("container", out _).ShouldBeTrue();
        (await (await client.GetAsync($"/v1/api/resources/{pod}/logs/stream?sinceSeconds=0")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("sinceSeconds", out _).ShouldBeTrue();
        (await (await client.GetAsync($"/v1/api/resources/{Guid.CreateVersion7()}/logs/stream")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Resource not found");
        (await (await client.GetAsync($"/v1/api/resources/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Resource not found");
        await (await client.GetAsync($"/v1/api/resources/{Guid.CreateVersion7()}/pods")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PatchAsJsonAsync($"/v1/api/resources/{Guid.CreateVersion7()}", new { isFavorite = true })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await client.PatchAsJsonAsync($"/v1/api/resources/{pod}", new { userNotes = new string('x', 5001) })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("userNotes", out _).ShouldBeTrue();
        (await (await client.GetAsync($"/v1/api/resources?search={new string('x', 101)}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("search", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_second_sync_records_a_status_change_in_the_resources_history()
    {
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("prod", user.Id);
        await SyncAsync(client, user.Id);
        var pod = await IdOfAsync(user.Id, "Pod", PodName);
        Api.Store.Update("v1", "Pod", "flux-system", PodName, obj => obj["status"]!["phase"] = "Failed");

        await SyncAsync(client, user.Id);
        var one = await (await client.GetAsync($"/v1/api/resources/{pod}")).ShouldBeJsonAsync();

        one.GetProperty("resource").GetProperty("status").GetString().ShouldBe("failed");
        var history = one.GetProperty("history").EnumerateArray().ToList();
        history.Select(entry => entry.GetProperty("action").GetString()).ShouldBe(["status_changed", "created"]);
        history[0].PropertyNames().ShouldBe(["id", "resourceId", "userId", "action", "changes", "oldStatus", "newStatus", "message", "timestamp"]);
        history[0].GetProperty("resourceId").GetGuid().ShouldBe(pod);
        history[0].GetProperty("userId").GetGuid().ShouldBe(user.Id);
        history[0].GetProperty("oldStatus").GetString().ShouldBe("running");
        history[0].GetProperty("newStatus").GetString().ShouldBe("failed");
        history[0].GetProperty("message").GetString().ShouldBe("Status changed from running to failed");
        history[1].GetProperty("message").GetString().ShouldBe("Pod discovered");
    }

    [Fact]
    public async Task A_followed_pod_log_sends_the_tail_then_new_lines()
    {
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("prod", user.Id);
        await SyncAsync(client, user.Id);
        var pod = await IdOfAsync(user.Id, "Pod", PodName);
        Api.Store.SetPodLog("flux-system", PodName, "2026-01-01T00:00:00Z first\n");

        using var logs = await OpenSseAsync(client, $"/v1/api/resources/{pod}/logs/stream?container=manager&tail=10");
        var metadata = await logs.NextAsync(Patience);
        metadata!.Event.ShouldBe("metadata");
        metadata.Json.PropertyNames().ShouldBe(["pod", "container", "namespace", "cluster"]);
        metadata.Json.GetProperty("container").GetString().ShouldBe("manager");
        metadata.Json.GetProperty("cluster").GetString().ShouldBe("prod");
        (await logs.NextAsync("log", Patience)).Data.ShouldBe("2026-01-01T00:00:00Z first");
        Api.Store.AppendPodLog("flux-system", PodName, "2026-01-01T00:00:05Z later");

        (await logs.NextAsync("log", Patience)).Data.ShouldBe("2026-01-01T00:00:05Z later");
    }

    [Fact]
    public async Task A_null_tag_is_a_400_not_a_crash()
    {
        var (client, user) = await DeveloperAsync();
        var resource = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.resources (id, user_id, cluster_name, namespace, name, kind, api_version, status) VALUES (@Id, @User, 'prod', 'default', 'web', 'Deployment', 'apps/v1', 'running')",
            new { Id = resource, User = user.Id });

        var error = await (await client.PatchAsync($"/v1/api/resources/{resource}", new StringContent("""{"userTags":["ok",null]}""", Encoding.UTF8, "application/json")))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty("userTags", out _).ShouldBeTrue(error.ToString());
        (await Fixture.ScalarAsync<string[]>("SELECT user_tags FROM delivery.resources WHERE id = @Id", new { Id = resource }))!.ShouldBeEmpty();
    }

    [Fact]
    public async Task The_role_below_each_resource_and_build_write_is_refused_and_nothing_changes()
    {
        var (_, owner) = await DeveloperAsync();
        var (viewer, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var resource = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.resources (id, user_id, cluster_name, namespace, name, kind, api_version, status) VALUES (@Id, @User, 'prod', 'default', 'web-1', 'Pod', 'v1', 'running')",
            new { Id = resource, User = owner.Id });

        await (await viewer.PostAsync("/v1/api/resources/sync", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await viewer.PatchAsJsonAsync($"/v1/api/resources/{resource}", new { isFavorite = true })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await viewer.PostAsJsonAsync("/v1/api/builds/start", new { repoUrl = "https://x/y.git", registryId = Guid.CreateVersion7(), imageName = "web" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await viewer.PostAsync($"/v1/api/builds/{Guid.CreateVersion7()}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.GetAsync("/v1/api/resources")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync("/v1/api/builds")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await (await viewer.GetAsync("/v1/api/resources")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0, "a viewer reads only their own");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.resource_syncs")).ShouldBe(0);
        (await Fixture.ScalarAsync<bool>("SELECT is_favorite FROM delivery.resources WHERE id = @Id", new { Id = resource })).ShouldBeFalse();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.builds")).ShouldBe(0);
    }

    [Fact]
    public async Task A_second_sync_while_one_runs_is_already_running()
    {
        var (client, user) = await DeveloperAsync();
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.resource_syncs (user_id, status, started_at) VALUES (@User, 'running', now())",
            new { User = user.Id });

        var sync = await (await client.PostAsync("/v1/api/resources/sync", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);

        sync.PropertyNames().ShouldBe(["message", "status"]);
        sync.GetProperty("status").GetString().ShouldBe("already_running");
    }

    [Fact]
    public async Task A_build_that_fails_to_clone_ends_its_stream_with_failed_and_cannot_be_cancelled()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var registry = (await (await admin.PostAsJsonAsync("/v1/api/admin/registries", new { name = "hub", registryType = "dockerhub", credentials = new { username = "me", password = "pw" } })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("registry").GetProperty("id").GetGuid();
        var (client, _) = await DeveloperAsync();
        await RegisterClusterAsync();
        var workflow = await CreateWorkflowAsync(client, nodes: [Node("d", "deployment", new { name = "web", image = "me/web:old" })]);
        var started = await (await client.PostAsJsonAsync("/v1/api/builds/start", new { repoUrl = "https://git.example.com/shop/missing.git", registryId = registry, imageName = "web", workflowId = workflow })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = started.GetProperty("build").GetProperty("id").GetGuid();
        using var stream = await OpenSseAsync(client, $"/v1/api/builds/{id}/stream");
        (await stream.NextAsync(Patience))!.Event.ShouldBe("metadata");
        var job = await Fixture.ScalarAsync<string>("SELECT job_name FROM delivery.builds WHERE id = @Id", new { Id = id });

        Api.Store.Put(JsonNode.Parse($$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{{job}}}}-x1","namespace":"kubeorch-builds","labels":{"job-name":"{{{{job}}}}"}},
             "spec":{"containers":[{"name":"build","image":"registry.local/kaniko:test"}]},
             "status":{"phase":"Failed",
               "initContainerStatuses":[{"name":"clone","state":{"terminated":{"exitCode":128,"message":"repository not found"}}}]}}
            """)!.AsObject());

        var failed = await stream.NextAsync("failed", Patience);
        failed.Data.ShouldContain("repository not found");
        var build = (await (await client.GetAsync($"/v1/api/builds/{id}")).ShouldBeJsonAsync()).GetProperty("build");
        build.GetProperty("status").GetString().ShouldBe("failed");
        build.GetProperty("errorMessage").GetString().ShouldBe("repository not found");
        build.GetProperty("errorStage").GetString().ShouldBe("cloning");
        (await (await client.PostAsync($"/v1/api/builds/{id}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("build is already in terminal state: failed");
        var nodes = (await (await client.GetAsync($"/v1/api/workflows/{workflow}")).ShouldBeJsonAsync()).GetProperty("nodes");
        nodes[0].GetProperty("data").GetProperty("image").GetString().ShouldBe("me/web:old");
        var listed = await (await client.GetAsync("/v1/api/builds?status=failed")).ShouldBeJsonAsync();
        listed.GetProperty("total").GetInt64().ShouldBe(1);
        (await (await client.GetAsync("/v1/api/builds?status=completed")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
        (await (await client.GetAsync($"/v1/api/builds?workflowId={workflow}")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        await (await client.GetAsync($"/v1/api/builds/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync($"/v1/api/builds/{Guid.CreateVersion7()}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/v1/api/builds/{Guid.CreateVersion7()}/stream")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_running_build_reports_its_stage_and_commit_as_progress()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var registry = (await (await admin.PostAsJsonAsync("/v1/api/admin/registries", new { name = "hub", registryType = "dockerhub", credentials = new { username = "me", password = "pw" } })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("registry").GetProperty("id").GetGuid();
        var (client, _) = await DeveloperAsync();
        await RegisterClusterAsync();
        var started = await (await client.PostAsJsonAsync("/v1/api/builds/start", new { repoUrl = "https://git.example.com/shop/web.git", registryId = registry, imageName = "web", imageTag = "v3" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = started.GetProperty("build").GetProperty("id").GetGuid();
        using var stream = await OpenSseAsync(client, $"/v1/api/builds/{id}/stream");
        (await stream.NextAsync(Patience))!.Event.ShouldBe("metadata");
        var job = await Fixture.ScalarAsync<string>("SELECT job_name FROM delivery.builds WHERE id = @Id", new { Id = id });

        Api.Store.Put(JsonNode.Parse($$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{{job}}}}-x1","namespace":"kubeorch-builds","labels":{"job-name":"{{{{job}}}}"}},
             "spec":{"containers":[{"name":"build","image":"registry.local/kaniko:test"}]},
             "status":{"phase":"Running",
               "initContainerStatuses":[{"name":"clone","state":{"terminated":{"exitCode":0,"message":"9f8e7d6c"}}}],
               "containerStatuses":[{"name":"build","state":{"running":{}}}]}}
            """)!.AsObject());

        SseFrame progress;
        do
        {
            progress = await stream.NextAsync("progress", Patience);
        }
        while (progress.Json.GetProperty("data").GetProperty("status").GetString() != "building");

        progress.Json.GetProperty("event_type").GetString().ShouldBe("progress");
        progress.Json.GetProperty("stream_key").GetString().ShouldBe($"build:{id}");
        progress.Json.GetProperty("data").PropertyNames().ShouldBe(["status", "current_stage", "progress"]);
        progress.Json.GetProperty("data").GetProperty("current_stage").GetString().ShouldBe("Building image");
        progress.Json.GetProperty("data").GetProperty("progress").GetInt64().ShouldBe(30);
        var build = (await (await client.GetAsync($"/v1/api/builds/{id}")).ShouldBeJsonAsync()).GetProperty("build");
        build.GetProperty("status").GetString().ShouldBe("building");
        build.GetProperty("currentStage").GetString().ShouldBe("Building image");
        build.GetProperty("progress").GetInt64().ShouldBe(30);
        build.GetProperty("commitSha").GetString().ShouldBe("9f8e7d6c");
        (await (await client.PostAsync($"/v1/api/builds/{id}/cancel", null)).ShouldBeJsonAsync()).GetProperty("build").GetProperty("status").GetString().ShouldBe("cancelled");
        (await stream.NextAsync("cancelled", Patience)).ShouldNotBeNull();
        Api.Store.All("batch/v1", "Job").ShouldBeEmpty();
    }

    private static async Task SendAsync(WebSocket socket, object message) =>
        await socket.SendAsync(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(message)), WebSocketMessageType.Text, true, CancellationToken.None);

    private static async Task<JsonElement> ReceiveAsync(WebSocket socket)
    {
        using var cancel = new CancellationTokenSource(Patience);
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, cancel.Token);
            result.MessageType.ShouldBe(WebSocketMessageType.Text, "a JSON message, not the close");
            message.Write(buffer, 0, result.Count);
        }
        while (!result.EndOfMessage);

        return JsonDocument.Parse(message.ToArray()).RootElement.Clone();
    }

    private static async Task ReceiveCloseAsync(WebSocket socket)
    {
        using var cancel = new CancellationTokenSource(Patience);
        var result = await socket.ReceiveAsync(new byte[1024], cancel.Token);
        result.MessageType.ShouldBe(WebSocketMessageType.Close);
        result.CloseStatus.ShouldBe(WebSocketCloseStatus.NormalClosure);
    }

    /// <summary>A WebSocket client of the test server authenticated by an API key (none when empty).</summary>
    private sealed class WebSocketClientFor(DeliveryFixture fixture, string key)
    {
        public async Task<WebSocket> ConnectAsync(string path)
        {
            var client = fixture.Factory.Server.CreateWebSocketClient();
            if (key.Length > 0)
            {
                client.ConfigureRequest = request => request.Headers.Authorization = $"Bearer {key}";
            }

            using var cancel = new CancellationTokenSource(Patience);
            return await client.ConnectAsync(new Uri("ws://localhost" + path), cancel.Token);
        }
    }
}
