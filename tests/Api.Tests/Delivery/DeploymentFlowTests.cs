using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>The whole life of a workflow against the fake API server: create → save → publish → run → status stream →
/// compare → restore → archive, with the exact objects applied and removed at each step.</summary>
public sealed class DeploymentFlowTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private static (JsonArray Nodes, JsonArray Edges) Shop(int replicas = 2, bool withConfig = true)
    {
        var (nodes, edges) = WebApp();
        ((JsonObject)nodes[0]!["data"]!)["replicas"] = replicas;
        nodes.Add(Node("n4", "secret", new { name = "db-secrets", @namespace = "default", keys = new[] { new { id = "k1", name = "PASSWORD" } } }, 100, 300));
        edges.Add(Edge("e3", "n4", "n1"));
        if (withConfig)
        {
            nodes.Add(Node("n3", "configmap", new { name = "web-config", @namespace = "default", data = new { MODE = "production" } }, 100));
            edges.Add(Edge("e2", "n3", "n1"));
        }

        return (nodes, edges);
    }

    private static string[] AppliedPaths(IEnumerable<RecordedRequest> requests) =>
        [.. requests.Where(request => request.Method == "PATCH" && request.ContentType == KubernetesPatch.ApplyPatchType).Select(request => request.Path)];

    [Fact]
    public async Task Create_save_publish_run_stream_compare_restore_archive()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();

        // Create (empty graph: version 1), save the shop, publish.
        var id = await CreateWorkflowAsync(client);
        var (nodes, edges) = Shop();
        await SaveAsync(client, id, nodes, edges);
        await SetStatusAsync(client, id, "published");
        Api.Requests.ShouldBeEmpty("nothing reaches the cluster before a run");

        using var stream = await OpenSseAsync(client, $"/v1/api/workflows/{id}/status/stream");
        var metadata = await stream.NextAsync(Patience);
        metadata!.Event.ShouldBe("metadata");
        metadata.Json.GetProperty("id").GetGuid().ShouldBe(id);
        metadata.Json.GetProperty("nodes").GetArrayLength().ShouldBe(4);

        // Run 1: the seed's body and the upstream's trigger_data together.
        var run = await RunAsync(client, id, JsonNode.Parse("""
            {"cluster": "prod", "trigger_data": {"secrets": {"n4": {"PASSWORD": "s3cr3t-value"}}, "envVars": {"n1": {"LOG_LEVEL": "debug"}}}}
            """)!);
        run.PropertyNames().ShouldBe(["run_id", "workflow_id", "status", "version", "message", "cluster", "duration", "logs"]);
        run.GetProperty("status").GetString().ShouldBe("completed", string.Join('\n', run.GetProperty("logs").EnumerateArray()));
        run.GetProperty("version").GetInt64().ShouldBe(2);
        run.GetProperty("cluster").GetString().ShouldBe("prod");
        run.GetProperty("message").GetString().ShouldBe("Workflow executed successfully");
        run.GetProperty("logs")[0].GetString()!.ShouldEndWith("Execution order: [n2 n4 n3 n1]");

        AppliedPaths(Api.Requests).ShouldBe(
        [
            "/api/v1/namespaces/default/services/web-svc",
            "/api/v1/namespaces/default/secrets/db-secrets",
            "/api/v1/namespaces/default/configmaps/web-config",
            "/apis/apps/v1/namespaces/default/deployments/web",
        ]);
        var deployment = Api.Store.Get("apps/v1", "Deployment", "default", "web")!;
        deployment["metadata"]!["labels"]!["managed-by"]!.ToString().ShouldBe("kubeorch");
        deployment["spec"]!["replicas"]!.GetValue<long>().ShouldBe(2);
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        container["env"]!.ToJsonString().ShouldContain("\"name\":\"LOG_LEVEL\",\"value\":\"debug\"");
        Api.Store.Get("v1", "Service", "default", "web-svc")!["spec"]!["selector"]!.ToJsonString().ShouldBe("""{"app":"web"}""");
        var secret = Api.Store.Get("v1", "Secret", "default", "db-secrets")!;
        secret["data"]!["PASSWORD"]!.ToString().ShouldBe(Convert.ToBase64String(Encoding.UTF8.GetBytes("s3cr3t-value")));

        // The stream saw every node and the run's end.
        var updates = new List<string>();
        while (updates.Count < 4)
        {
            var update = await stream.NextAsync("node_update", Patience);
            update.Json.PropertyNames().ShouldBe(["type", "stream_key", "event_type", "timestamp", "data"]);
            update.Json.GetProperty("stream_key").GetString().ShouldBe($"workflow:{id}");
            updates.Add(update.Json.GetProperty("data").GetProperty("node_id").GetString()!);
        }

        updates.ShouldBe(["n2", "n4", "n3", "n1"]);
        var sync = await stream.NextAsync("workflow_sync", Patience);
        sync.Json.GetProperty("data").GetProperty("status").GetString().ShouldBe("completed");
        sync.Json.GetProperty("data").GetProperty("nodes").EnumerateArray()
            .Select(node => node.GetProperty("data").TryGetProperty("_status", out var status) && status.ValueKind == System.Text.Json.JsonValueKind.Object).ShouldAllBe(has => has);

        // The run is in the history; the secret value is stored nowhere.
        var runs = await (await client.GetAsync($"/v1/api/workflows/{id}/runs")).ShouldBeJsonAsync();
        var recorded = runs.GetProperty("runs").EnumerateArray().Single();
        recorded.GetProperty("id").GetGuid().ShouldBe(run.GetProperty("run_id").GetGuid());
        recorded.GetProperty("status").GetString().ShouldBe("completed");
        recorded.GetProperty("node_states").GetProperty("n1").GetProperty("status").GetString().ShouldBe("completed");
        var stored = await Fixture.StoredRowsAsTextAsync("delivery", "platform", "identity", "clusters");
        foreach (var form in new[] { "s3cr3t-value", Convert.ToBase64String(Encoding.UTF8.GetBytes("s3cr3t-value")) })
        {
            stored.ShouldNotContain(form, Case.Sensitive, "no table (audit rows included) holds the run's secret value");
            Fixture.Logs.All.ShouldNotContain(form, Case.Sensitive, "no log line holds the run's secret value");
        }

        // Change the canvas: more replicas, the ConfigMap taken off (removed from the cluster at once), run again.
        Api.ClearRequests();
        var (changed, changedEdges) = Shop(replicas: 3, withConfig: false);
        var saved = await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/save", new JsonObject { ["nodes"] = changed, ["edges"] = changedEdges })).ShouldBeJsonAsync();
        saved.GetProperty("deleted").EnumerateArray().Select(item => item.GetString()).ShouldBe(["ConfigMap default/web-config"]);
        Api.Store.Get("v1", "ConfigMap", "default", "web-config").ShouldBeNull();
        var second = await RunAsync(client, id, JsonNode.Parse("""{"trigger_data": {"secrets": {"n4": {"PASSWORD": "s3cr3t-value"}}}}""")!);
        second.GetProperty("version").GetInt64().ShouldBe(3);
        Api.Store.Get("apps/v1", "Deployment", "default", "web")!["spec"]!["replicas"]!.GetValue<long>().ShouldBe(3);

        // Compare the two run snapshots.
        var compare = await (await client.GetAsync($"/v1/api/workflows/{id}/versions/compare?v1=2&v2=3")).ShouldBeJsonAsync();
        compare.PropertyNames().ShouldBe(["from_version", "to_version", "added_nodes", "removed_nodes", "modified_nodes", "added_edges", "removed_edges"]);
        compare.GetProperty("added_nodes").GetArrayLength().ShouldBe(0);
        compare.GetProperty("removed_nodes").EnumerateArray().Single().GetProperty("node_id").GetString().ShouldBe("n3");
        var modified = compare.GetProperty("modified_nodes").EnumerateArray().ToList();
        modified.Select(node => node.GetProperty("node_id").GetString()).ShouldContain("n1");
        var n1 = modified.Single(node => node.GetProperty("node_id").GetString() == "n1");
        n1.GetProperty("old_data").GetProperty("replicas").GetInt32().ShouldBe(2);
        n1.GetProperty("new_data").GetProperty("replicas").GetInt32().ShouldBe(3);
        compare.GetProperty("removed_edges").EnumerateArray().Single().PropertyNames().ShouldBe(["edge_id", "source", "target"]);
        compare.GetProperty("removed_edges")[0].GetProperty("edge_id").GetString().ShouldBe("e2");

        // Restore version 2: a new version 4 with its graph, nothing redeployed.
        Api.ClearRequests();
        var restored = await (await client.PostAsync($"/v1/api/workflows/{id}/versions/2/restore", null)).ShouldBeJsonAsync();
        restored.GetProperty("message").GetString().ShouldBe("Version restored successfully");
        restored.GetProperty("version").GetProperty("version").GetInt64().ShouldBe(4);
        restored.GetProperty("version").GetProperty("restored_from").GetInt64().ShouldBe(2);
        restored.GetProperty("workflow").GetProperty("current_version").GetInt64().ShouldBe(4);
        restored.GetProperty("workflow").GetProperty("nodes").EnumerateArray().Select(node => node.GetProperty("id").GetString()).ShouldBe(["n1", "n2", "n4", "n3"]);
        AppliedPaths(Api.Requests).ShouldBeEmpty();

        // Archive: every object the runs applied goes (ingress and services first, then workloads), the Secret stays.
        var archived = await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/status", new { status = "archived" })).ShouldBeJsonAsync();
        archived.PropertyNames().ShouldBe(["message", "status", "deleted", "kept"]);
        archived.GetProperty("deleted").EnumerateArray().Select(item => item.GetString()).ShouldBe(["Service default/web-svc", "Deployment default/web"]);
        archived.GetProperty("kept").EnumerateArray().Select(item => item.GetString()).ShouldBe(["Secret default/db-secrets"]);
        Api.RequestsTo("DELETE", "/").Select(request => request.Path).ShouldBe(
            ["/api/v1/namespaces/default/services/web-svc", "/apis/apps/v1/namespaces/default/deployments/web"]);
        Api.Store.Get("apps/v1", "Deployment", "default", "web").ShouldBeNull();
        Api.Store.Get("v1", "Service", "default", "web-svc").ShouldBeNull();
        Api.Store.Get("v1", "Secret", "default", "db-secrets").ShouldNotBeNull();
        (await stream.NextAsync("complete", Patience)).ShouldNotBeNull();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflow_objects WHERE workflow_id = @Id AND kind <> 'Secret'", new { Id = id })).ShouldBe(0);
    }

    [Fact]
    public async Task A_run_of_a_draft_is_a_409_and_touches_nothing()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var (nodes, edges) = WebApp();
        var id = await CreateWorkflowAsync(client, nodes: nodes, edges: edges);

        (await (await client.PostAsync($"/v1/api/workflows/{id}/run", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("Workflow must be published to run");
        Api.Requests.ShouldBeEmpty();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflow_runs")).ShouldBe(0);
    }

    [Fact]
    public async Task A_cycle_is_a_400_before_anything_is_recorded()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var (nodes, edges) = WebApp();
        edges.Add(Edge("back", "n1", "n2"));
        var id = await CreateWorkflowAsync(client, nodes: nodes, edges: edges);
        await SetStatusAsync(client, id, "published");

        var error = await (await client.PostAsync($"/v1/api/workflows/{id}/run", null)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("message").GetString()!.ShouldContain("cycle");
        error.GetProperty("details").TryGetProperty("edges", out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflow_runs")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflow_versions WHERE workflow_id = @Id", new { Id = id })).ShouldBe(1);
    }

    [Fact]
    public async Task A_node_that_cannot_render_is_a_400_naming_it()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, nodes: [Node("d", "deployment", new { name = "Bad_Name", image = "nginx" })]);
        await SetStatusAsync(client, id, "published");

        var error = await (await client.PostAsync($"/v1/api/workflows/{id}/run", null)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty("nodes.d.name", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task An_unknown_cluster_is_a_404_and_an_unreachable_one_a_503_with_the_failed_run_recorded()
    {
        var (client, _) = await DeveloperAsync();
        var id = await PublishedWebAppAsync(client, cluster: null);
        await Fixture.RegisterUnreachableClusterAsync("down");

        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/run", new { cluster = "nowhere" })).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Cluster 'nowhere' not found");
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/run", new { cluster = "down" })).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString()!.ShouldContain("'down' could not be reached");

        var runs = await (await client.GetAsync($"/v1/api/workflows/{id}/runs")).ShouldBeJsonAsync();
        var failed = runs.GetProperty("runs").EnumerateArray().Single();
        failed.GetProperty("status").GetString().ShouldBe("failed");
        failed.GetProperty("completed_at").ValueKind.ShouldNotBe(System.Text.Json.JsonValueKind.Null);
        var workflow = await (await client.GetAsync($"/v1/api/workflows/{id}")).ShouldBeJsonAsync();
        workflow.GetProperty("failure_count").GetInt64().ShouldBe(1);
        workflow.GetProperty("run_count").GetInt64().ShouldBe(1);
    }

    [Fact]
    public async Task Without_a_named_cluster_the_run_uses_the_callers_default_and_the_seed_namespace()
    {
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("mine", user.Id, isDefault: true);
        var id = await CreateWorkflowAsync(client, cluster: null, nodes: [Node("c", "configmap", new { name = "settings", data = new { A = "1" } })]);
        await SetStatusAsync(client, id, "published");

        var run = await RunAsync(client, id, new { @namespace = "apps" });

        run.GetProperty("cluster").GetString().ShouldBe("mine");
        Api.Store.Get("v1", "ConfigMap", "apps", "settings").ShouldNotBeNull();
    }

    [Fact]
    public async Task A_failing_apply_fails_the_run_with_the_node_named()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var id = await PublishedWebAppAsync(client);
        Api.FailNext("PATCH", "/apis/apps/v1/namespaces/default/deployments/web", 422, """{"kind":"Status","apiVersion":"v1","status":"Failure","message":"admission webhook denied","reason":"Invalid","code":422}""");

        var run = await RunAsync(client, id);

        run.GetProperty("status").GetString().ShouldBe("failed");
        run.GetProperty("error").GetString()!.ShouldContain("n1");
        var workflow = await (await client.GetAsync($"/v1/api/workflows/{id}")).ShouldBeJsonAsync();
        var node = workflow.GetProperty("nodes").EnumerateArray().Single(node => node.GetProperty("id").GetString() == "n1");
        node.GetProperty("data").GetProperty("_status").GetProperty("state").GetString().ShouldBe("error");
    }

    [Fact]
    public async Task Runs_list_newest_first_with_a_limit_and_validate_it()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var id = await PublishedWebAppAsync(client);
        await RunAsync(client, id);
        await RunAsync(client, id);

        var runs = await (await client.GetAsync($"/v1/api/workflows/{id}/runs?limit=1")).ShouldBeJsonAsync();

        runs.GetProperty("runs").GetArrayLength().ShouldBe(1);
        runs.GetProperty("runs")[0].GetProperty("version").GetInt64().ShouldBe(3);
        runs.GetProperty("runs")[0].PropertyNames().ShouldContain("triggered_by");
        (await (await client.GetAsync($"/v1/api/workflows/{id}/runs?limit=0")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("limit", out _).ShouldBeTrue();
        (await (await client.GetAsync($"/v1/api/workflows/{id}/runs?limit=101")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("limit", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Run_validates_its_body()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var id = await PublishedWebAppAsync(client);

        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/run", new { @namespace = "Not_A_Namespace" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("namespace", out _).ShouldBeTrue();
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/run", new { trigger_data = new { secrets = new { n4 = "flat" } } })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("trigger_data.secrets", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task The_status_stream_sends_heartbeats_and_is_404_for_another_users_workflow()
    {
        var (client, _) = await DeveloperAsync();
        var (other, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);

        using (var stream = await OpenSseAsync(client, $"/v1/api/workflows/{id}/status/stream"))
        {
            (await stream.NextAsync(Patience))!.Event.ShouldBe("metadata");
            await Should.ThrowAsync<OperationCanceledException>(() => stream.NextAsync(TimeSpan.FromSeconds(2.5)));
            stream.Comments.ShouldBeGreaterThan(0, "a heartbeat comment every second");
        }

        await (await other.GetAsync($"/v1/api/workflows/{id}/status/stream")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
