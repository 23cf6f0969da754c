using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>Versions (list, get, create, update, restore, compare) and the service-node diagnostics and fixes.</summary>
public sealed class VersionAndDiagnosticsRoutesTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private static readonly string[] VersionFields =
        ["id", "workflow_id", "version", "nodes", "edges", "name", "tag", "description", "created_at", "created_by", "restored_from", "is_automatic", "run_id", "run_status"];

    [Fact]
    public async Task Create_list_get_and_update_versions()
    {
        var (client, user) = await DeveloperAsync();
        var (nodes, edges) = WebApp();
        var id = await CreateWorkflowAsync(client, cluster: null, nodes: nodes, edges: edges);

        var created = await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/versions", new { name = "beta", tag = "v0.2", description = "before launch" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var updated = await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/versions/2", new { tag = "v0.2.1" })).ShouldBeJsonAsync();
        var list = await (await client.GetAsync($"/v1/api/workflows/{id}/versions?limit=1")).ShouldBeJsonAsync();
        var one = await (await client.GetAsync($"/v1/api/workflows/{id}/versions/1")).ShouldBeJsonAsync();

        created.PropertyNames().ShouldBe(["message", "version"]);
        created.GetProperty("message").GetString().ShouldBe("Version created successfully");
        created.GetProperty("version").PropertyNames().ShouldBe(VersionFields);
        created.GetProperty("version").GetProperty("version").GetInt64().ShouldBe(2);
        created.GetProperty("version").GetProperty("is_automatic").GetBoolean().ShouldBeFalse();
        created.GetProperty("version").GetProperty("created_by").GetGuid().ShouldBe(user.Id);
        created.GetProperty("version").GetProperty("nodes").GetArrayLength().ShouldBe(2);
        updated.GetProperty("message").GetString().ShouldBe("Version updated successfully");
        updated.GetProperty("version").GetProperty("tag").GetString().ShouldBe("v0.2.1");
        updated.GetProperty("version").GetProperty("name").GetString().ShouldBe("beta");
        list.PropertyNames().ShouldBe(["versions", "total", "page", "limit", "pagination"]);
        list.GetProperty("total").GetInt64().ShouldBe(2);
        list.GetProperty("versions").EnumerateArray().Single().GetProperty("version").GetInt64().ShouldBe(2);
        one.PropertyNames().ShouldBe(VersionFields);
        one.GetProperty("description").GetString().ShouldBe("Initial version");
        (await (await client.GetAsync($"/v1/api/workflows/{id}")).ShouldBeJsonAsync()).GetProperty("current_version").GetInt64().ShouldBe(2);
    }

    [Fact]
    public async Task Version_routes_validate_and_404_unknown_versions()
    {
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);

        await (await client.GetAsync($"/v1/api/workflows/{id}/versions/9")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/versions/9", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync($"/v1/api/workflows/{id}/versions/9/restore", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/v1/api/workflows/{id}/versions/compare?v1=1&v2=9")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/v1/api/workflows/{id}/versions/0")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.GetAsync($"/v1/api/workflows/{id}/versions/abc")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        (await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/versions/1", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("body", out _).ShouldBeTrue();
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/versions", new { name = new string('n', 201) })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("name", out _).ShouldBeTrue();
        (await (await client.GetAsync($"/v1/api/workflows/{id}/versions/compare?v2=1")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("v1", out _).ShouldBeTrue();
        (await (await client.GetAsync($"/v1/api/workflows/{id}/versions?limit=51")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("limit", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Compare_reports_added_nodes_and_edges_and_moves()
    {
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null, nodes: [Node("a", "configmap", new { name = "a" }, 1, 1)]);
        await SaveAsync(client, id, [Node("a", "configmap", new { name = "a" }, 5, 1), Node("b", "deployment", new { name = "b", image = "nginx" })], [Edge("ab", "a", "b")]);
        await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/versions", new { })).ShouldBeJsonAsync(HttpStatusCode.Created);

        var compare = await (await client.GetAsync($"/v1/api/workflows/{id}/versions/compare?v1=1&v2=2")).ShouldBeJsonAsync();

        compare.GetProperty("from_version").GetInt64().ShouldBe(1);
        compare.GetProperty("to_version").GetInt64().ShouldBe(2);
        var added = compare.GetProperty("added_nodes").EnumerateArray().Single();
        added.PropertyNames().ShouldBe(["node_id", "type", "new_data"]);
        added.GetProperty("type").GetString().ShouldBe("deployment");
        compare.GetProperty("modified_nodes").EnumerateArray().Single().GetProperty("node_id").GetString().ShouldBe("a", "a moved node is modified");
        compare.GetProperty("added_edges").EnumerateArray().Single().GetProperty("edge_id").GetString().ShouldBe("ab");
        compare.GetProperty("removed_nodes").GetArrayLength().ShouldBe(0);
        compare.GetProperty("removed_edges").GetArrayLength().ShouldBe(0);
    }

    private async Task<(HttpClient Client, Guid Id)> DeployedServiceAsync(string serviceData)
    {
        await RegisterClusterAsync();
        Api.Store.RegisterType(new FakeResourceType(string.Empty, "v1", "endpoints", "Endpoints", HasStatus: false));
        var (client, _) = await DeveloperAsync();
        var nodes = new JsonArray(JsonNode.Parse($$"""{"id":"svc","type":"service","data":{{serviceData}}}""")!, Node("dep", "deployment", new { name = "api", image = "api:1", port = 8080 }));
        var id = await CreateWorkflowAsync(client, nodes: nodes);
        return (client, id);
    }

    private void PutPod(string name, string app, bool ready, int port = 8080)
    {
        var state = ready ? new JsonObject { ["running"] = new JsonObject() } : new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff" } };
        Api.Store.Put(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default", ["labels"] = new JsonObject { ["app"] = app } },
            ["spec"] = JsonNode.Parse("{\"containers\":[{\"name\":\"c\",\"image\":\"api:1\",\"ports\":[{\"containerPort\":" + port + "}]}]}"),
            ["status"] = new JsonObject
            {
                ["phase"] = "Running",
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False" }),
                ["containerStatuses"] = new JsonArray(new JsonObject { ["name"] = "c", ["ready"] = ready, ["state"] = state }),
            },
        });
    }

    [Fact]
    public async Task Diagnostics_of_a_healthy_service_pass_every_check()
    {
        var (client, id) = await DeployedServiceAsync("""{"name":"api-svc","targetApp":"api","port":80,"targetPort":8080}""");
        Api.Store.Put(JsonNode.Parse("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"api-svc","namespace":"default"},"spec":{"type":"ClusterIP","selector":{"app":"api"},"ports":[{"port":80,"targetPort":8080}]}}""")!.AsObject());
        Api.Store.Put(JsonNode.Parse("""{"apiVersion":"v1","kind":"Endpoints","metadata":{"name":"api-svc","namespace":"default"},"subsets":[{"addresses":[{"ip":"10.0.0.5"}]}]}""")!.AsObject());
        PutPod("api-1", "api", ready: true);

        var body = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/diagnostics")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["overallStatus", "serviceName", "namespace", "checks", "timestamp"]);
        body.GetProperty("overallStatus").GetString().ShouldBe("healthy");
        body.GetProperty("serviceName").GetString().ShouldBe("api-svc");
        body.GetProperty("checks").EnumerateArray().Select(check => check.GetProperty("name").GetString()).ShouldBe(["service-exists", "endpoints-exist", "selector-match", "pods-ready", "port-config"]);
        body.GetProperty("checks").EnumerateArray().Select(check => check.GetProperty("status").GetString()).ShouldAllBe(status => status == "pass");
        body.GetProperty("checks")[0].PropertyNames().ShouldContain("autoFixable");
    }

    [Fact]
    public async Task Diagnostics_find_a_wrong_selector_and_a_missing_service_and_the_fix_repairs_it()
    {
        var (client, id) = await DeployedServiceAsync("""{"name":"api-svc","targetApp":"api","port":80,"targetPort":8080}""");

        var missing = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/diagnostics")).ShouldBeJsonAsync();
        missing.GetProperty("overallStatus").GetString().ShouldBe("error");
        missing.GetProperty("checks").EnumerateArray().Single().GetProperty("name").GetString().ShouldBe("service-exists");

        Api.Store.Put(JsonNode.Parse("""{"apiVersion":"v1","kind":"Service","metadata":{"name":"api-svc","namespace":"default"},"spec":{"type":"LoadBalancer","selector":{"app":"wrong"},"ports":[{"port":80,"targetPort":8080}]}}""")!.AsObject());
        PutPod("api-1", "api", ready: false);
        var broken = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/diagnostics")).ShouldBeJsonAsync();
        broken.GetProperty("overallStatus").GetString().ShouldBe("error");
        var selector = broken.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == "selector-match");
        selector.GetProperty("status").GetString().ShouldBe("error");
        selector.GetProperty("fixType").GetString().ShouldBe("selector-fix");
        broken.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == "loadbalancer-provisioned").GetProperty("status").GetString().ShouldBe("warning");

        var template = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/selector-fix")).ShouldBeJsonAsync();
        template.PropertyNames().ShouldBe(["name", "description", "yaml", "applyMethod", "fixType"]);
        template.GetProperty("applyMethod").GetString().ShouldBe("kubectl-apply");
        template.GetProperty("yaml").GetString()!.ShouldContain("app: api");

        var fix = await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "selector-fix", yaml = template.GetProperty("yaml").GetString(), mode = "auto" })).ShouldBeJsonAsync();
        fix.GetProperty("success").GetBoolean().ShouldBeTrue();
        fix.GetProperty("fixType").GetString().ShouldBe("selector-fix");
        fix.GetProperty("mode").GetString().ShouldBe("auto");
        Api.Store.Get("v1", "Service", "default", "api-svc")!["spec"]!["selector"]!.ToJsonString().ShouldBe("""{"app":"api"}""");

        PutPod("api-1", "api", ready: true, port: 9090);
        var ports = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/diagnostics")).ShouldBeJsonAsync();
        ports.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == "port-config").GetProperty("fixType").GetString().ShouldBe("port-fix");
        var portFix = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/port-fix")).ShouldBeJsonAsync();
        portFix.GetProperty("yaml").GetString()!.ShouldContain("targetPort: 8080");
    }

    [Fact]
    public async Task Diagnostics_and_fixes_refuse_what_they_cannot_do()
    {
        var (client, id) = await DeployedServiceAsync("""{"name":"api-svc","targetApp":"api","port":80}""");

        (await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/dep/diagnostics")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("Diagnostics only supported for service nodes");
        (await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/nope/diagnostics")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Node not found");
        (await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/magic")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("fixType", out _).ShouldBeTrue();
        (await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/metallb-pool")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString()!.ShouldContain("MetalLB is not installed");
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "selector-fix" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("yaml", out _).ShouldBeTrue();
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "selector-fix", yaml = "a: [", mode = "auto" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("yaml", out _).ShouldBeTrue();
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "selector-fix", yaml = "apiVersion: v1\nkind: Service\nmetadata:\n  name: x", mode = "sometimes" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("mode", out _).ShouldBeTrue();
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "selector-fix", yaml = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n  namespace: kube-system\n" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("yaml", out _).ShouldBeTrue("a fix may only touch the node's service");
        Api.RequestsTo("PATCH", "/").ShouldBeEmpty();
    }
}
