using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>Workflow create, list, get, update, delete, clone, status and save.</summary>
public sealed class WorkflowRoutesTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private static readonly string[] WorkflowFields =
        ["id", "name", "description", "cluster_id", "status", "tags", "nodes", "edges", "current_version", "owner_id", "team_id", "run_count", "success_count", "failure_count", "last_run_at", "created_at", "updated_at"];

    [Fact]
    public async Task Create_answers_201_with_the_flat_workflow_the_message_and_the_nested_workflow()
    {
        await RegisterClusterAsync();
        var (client, user) = await DeveloperAsync();

        var response = await client.PostAsJsonAsync("/v1/api/workflows", new { name = " shop ", description = "the shop", cluster_id = "prod", tags = new[] { "web", "web" } });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe([.. WorkflowFields, "message", "workflow"]);
        body.GetProperty("workflow").PropertyNames().ShouldBe(WorkflowFields);
        body.GetProperty("name").GetString().ShouldBe("shop");
        body.GetProperty("status").GetString().ShouldBe("draft");
        body.GetProperty("cluster_id").GetString().ShouldBe("prod");
        body.GetProperty("tags").EnumerateArray().Select(tag => tag.GetString()).ShouldBe(["web"]);
        body.GetProperty("current_version").GetInt64().ShouldBe(1);
        body.GetProperty("owner_id").GetGuid().ShouldBe(user.Id);
        body.GetProperty("nodes").GetArrayLength().ShouldBe(0);
        body.GetProperty("message").GetString().ShouldBe("Workflow created successfully");
        response.Headers.Location!.ToString().ShouldBe($"/v1/api/workflows/{body.GetProperty("id").GetGuid()}");
        (await Fixture.ScalarAsync<string>("SELECT description FROM delivery.workflow_versions WHERE version = 1")).ShouldBe("Initial version");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.workflow.create'")).ShouldBe(1);
    }

    [Theory]
    [InlineData("""{"description":"x"}""", "name")]
    [InlineData("""{"name":""}""", "name")]
    [InlineData("""{"name":"x","tags":[""]}""", "tags")]
    [InlineData("""{"name":"x","nodes":{}}""", "nodes")]
    [InlineData("""{"name":"x","nodes":[{"id":"a","type":"deployment","data":{}},{"id":"a","type":"service","data":{}}]}""", "nodes[1].id")]
    [InlineData("""{"name":"x","nodes":[{"id":"a","data":{}}]}""", "nodes[0].type")]
    [InlineData("""{"name":"x","nodes":[{"id":"a","type":"service","data":{}}],"edges":[{"id":"e","source":"a","target":"zz"}]}""", "edges[0].target")]
    public async Task Create_validates_each_field(string json, string field)
    {
        var (client, _) = await DeveloperAsync();

        var error = await (await client.PostAsync("/v1/api/workflows", new StringContent(json, System.Text.Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(error.ToString());
    }

    [Fact]
    public async Task Create_with_a_cluster_the_caller_cannot_use_is_a_404()
    {
        var (client, _) = await DeveloperAsync();
        var (_, other) = await DeveloperAsync();
        await RegisterClusterAsync("theirs", other.Id);

        (await (await client.PostAsJsonAsync("/v1/api/workflows", new { name = "x", cluster_id = "theirs" })).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Cluster 'theirs' not found");
    }

    [Fact]
    public async Task List_pages_sorts_searches_and_filters_the_callers_workflows()
    {
        var (client, _) = await DeveloperAsync();
        var (other, _) = await DeveloperAsync();
        foreach (var name in new[] { "alpha", "bravo", "charlie" })
        {
            await CreateWorkflowAsync(client, name, cluster: null);
        }

        var published = await CreateWorkflowAsync(client, "delta", cluster: null);
        await SetStatusAsync(client, published, "published");
        await CreateWorkflowAsync(other, "alpha-of-someone-else", cluster: null);

        var page = await (await client.GetAsync("/v1/api/workflows?page=2&limit=2&sort=name&order=asc")).ShouldBeJsonAsync();
        var search = await (await client.GetAsync("/v1/api/workflows?search=ALP")).ShouldBeJsonAsync();
        var byStatus = await (await client.GetAsync("/v1/api/workflows?status=published")).ShouldBeJsonAsync();
        var defaults = await (await client.GetAsync("/v1/api/workflows")).ShouldBeJsonAsync();

        page.PropertyNames().ShouldBe(["workflows", "total", "page", "limit", "pagination"]);
        page.GetProperty("workflows").EnumerateArray().Select(item => item.GetProperty("name").GetString()).ShouldBe(["charlie", "delta"]);
        page.GetProperty("total").GetInt64().ShouldBe(4);
        page.GetProperty("pagination").GetProperty("totalPages").GetInt32().ShouldBe(2);
        search.GetProperty("workflows").EnumerateArray().Select(item => item.GetProperty("name").GetString()).ShouldBe(["alpha"]);
        byStatus.GetProperty("workflows").EnumerateArray().Single().GetProperty("name").GetString().ShouldBe("delta");
        defaults.GetProperty("workflows")[0].GetProperty("name").GetString().ShouldBe("delta", "newest first");
        defaults.GetProperty("limit").GetInt32().ShouldBe(20);
    }

    [Theory]
    [InlineData("?status=running", "status")]
    [InlineData("?sort=owner_id", "sort")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?page=0", "page")]
    public async Task List_validates_its_parameters(string query, string field)
    {
        var (client, _) = await DeveloperAsync();

        var error = await (await client.GetAsync("/v1/api/workflows" + query)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").EnumerateObject().Select(property => property.Name).ShouldContain(name => name.StartsWith(field, StringComparison.OrdinalIgnoreCase), error.ToString());
    }

    [Fact]
    public async Task A_viewer_lists_and_reads_but_cannot_create()
    {
        var (viewer, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        (await (await viewer.GetAsync("/v1/api/workflows")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
        await (await viewer.PostAsJsonAsync("/v1/api/workflows", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Get_answers_every_field_of_the_model()
    {
        var (client, _) = await DeveloperAsync();
        var (nodes, edges) = WebApp();
        var id = await CreateWorkflowAsync(client, cluster: null, nodes: nodes, edges: edges);

        var body = await (await client.GetAsync($"/v1/api/workflows/{id}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(WorkflowFields);
        body.GetProperty("nodes")[0].PropertyNames().Order().ShouldBe(["data", "id", "position", "type"]);
        body.GetProperty("edges")[0].GetProperty("source").GetString().ShouldBe("n2");
    }

    [Fact]
    public async Task Update_changes_only_the_fields_sent()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);

        var body = await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}", new { description = "new words", cluster_id = "prod", status = "published" })).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(WorkflowFields);
        body.GetProperty("name").GetString().ShouldBe("shop");
        body.GetProperty("description").GetString().ShouldBe("new words");
        body.GetProperty("cluster_id").GetString().ShouldBe("prod");
        body.GetProperty("status").GetString().ShouldBe("published");
    }

    [Theory]
    [InlineData("""{}""", "body")]
    [InlineData("""{"name":"  "}""", "name")]
    [InlineData("""{"status":"archived"}""", "status")]
    [InlineData("""{"status":"running"}""", "status")]
    [InlineData("""{"edges":[{"id":"e","source":"nope","target":"n1"}]}""", "edges[0].source")]
    public async Task Update_validates_each_field(string json, string field)
    {
        var (client, _) = await DeveloperAsync();
        var (nodes, edges) = WebApp();
        var id = await CreateWorkflowAsync(client, cluster: null, nodes: nodes, edges: edges);

        var error = await (await client.PutAsync($"/v1/api/workflows/{id}", new StringContent(json, System.Text.Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(error.ToString());
    }

    [Fact]
    public async Task Delete_is_soft_and_the_workflow_is_404_afterwards()
    {
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);

        var body = await (await client.DeleteAsync($"/v1/api/workflows/{id}")).ShouldBeJsonAsync();

        body.GetProperty("message").GetString().ShouldBe("Workflow deleted successfully");
        await (await client.GetAsync($"/v1/api/workflows/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/v1/api/workflows/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await Fixture.ScalarAsync<bool>("SELECT deleted_at IS NOT NULL FROM delivery.workflows WHERE id = @Id", new { Id = id })).ShouldBeTrue();
        (await (await client.GetAsync("/v1/api/workflows")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Clone_copies_the_graph_without_run_state_as_a_draft()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var id = await PublishedWebAppAsync(client);
        await RunAsync(client, id);

        var response = await client.PostAsJsonAsync($"/v1/api/workflows/{id}/clone", new { name = "shop copy" });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe([.. WorkflowFields, "message", "workflow"]);
        body.GetProperty("message").GetString().ShouldBe("Workflow cloned successfully");
        body.GetProperty("id").GetGuid().ShouldNotBe(id);
        body.GetProperty("status").GetString().ShouldBe("draft");
        body.GetProperty("description").GetString().ShouldBe("the shop (Cloned)");
        body.GetProperty("run_count").GetInt64().ShouldBe(0);
        body.GetProperty("nodes").GetArrayLength().ShouldBe(2);
        body.GetProperty("nodes").EnumerateArray().Select(node => node.GetProperty("data").TryGetProperty("_status", out var _)).ShouldAllBe(has => !has);
        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/clone", new { name = "" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("name", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Status_moves_between_draft_published_and_archived_and_validates()
    {
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);

        var published = await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/status", new { status = "published" })).ShouldBeJsonAsync();
        var archived = await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/status", new { status = "archived" })).ShouldBeJsonAsync();

        published.PropertyNames().ShouldBe(["message", "status", "deleted", "kept"]);
        published.GetProperty("message").GetString().ShouldBe("Workflow status updated successfully");
        archived.GetProperty("status").GetString().ShouldBe("archived");
        (await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/status", new { status = "gone" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("status", out _).ShouldBeTrue();
        (await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/status", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("status", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Archiving_with_an_unreachable_cluster_warns_and_still_archives()
    {
        await RegisterClusterAsync();
        var (client, _) = await DeveloperAsync();
        var id = await PublishedWebAppAsync(client);
        await RunAsync(client, id);
        Api.FailNext("DELETE", "/api/v1/namespaces/default/services/web-svc", 500, """{"kind":"Status","apiVersion":"v1","status":"Failure","message":"etcd is down","code":500}""");

        var body = await (await client.PutAsJsonAsync($"/v1/api/workflows/{id}/status", new { status = "archived" })).ShouldBeJsonAsync();

        body.GetProperty("status").GetString().ShouldBe("archived");
        body.GetProperty("warning").GetString()!.ShouldContain("Service default/web-svc was not deleted");
        body.GetProperty("deleted").EnumerateArray().Select(item => item.GetString()).ShouldBe(["Deployment default/web"]);
    }

    [Fact]
    public async Task Save_replaces_the_graph_trims_names_and_makes_no_version()
    {
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);

        var body = await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/save", new JsonObject
        {
            ["nodes"] = new JsonArray(Node("n1", "deployment", new { name = " web ", @namespace = " default ", image = " nginx:1.25 " })),
            ["edges"] = new JsonArray(),
            ["description"] = "saved",
        })).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["message", "workflow", "deleted"]);
        body.GetProperty("message").GetString().ShouldBe("Workflow saved successfully");
        var data = body.GetProperty("workflow").GetProperty("nodes")[0].GetProperty("data");
        data.GetProperty("name").GetString().ShouldBe("web");
        data.GetProperty("namespace").GetString().ShouldBe("default");
        data.GetProperty("image").GetString().ShouldBe("nginx:1.25");
        body.GetProperty("workflow").GetProperty("description").GetString().ShouldBe("saved");
        body.GetProperty("workflow").GetProperty("current_version").GetInt64().ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflow_versions WHERE workflow_id = @Id", new { Id = id })).ShouldBe(1);
    }

    [Theory]
    [InlineData("""{"edges":[]}""", "nodes")]
    [InlineData("""{"nodes":[{"id":"a","type":"service","data":[]}]}""", "nodes[0].data")]
    [InlineData("""{"nodes":[{"id":"a","type":"service","data":{},"position":"top"}]}""", "nodes[0].position")]
    [InlineData("""{"nodes":[{"id":"a","type":"service"}],"edges":[{"id":"e","target":"a"}]}""", "edges[0]")]
    public async Task Save_validates_the_graph(string json, string field)
    {
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);

        var error = await (await client.PostAsync($"/v1/api/workflows/{id}/save", new StringContent(json, System.Text.Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(error.ToString());
    }

    [Fact]
    public async Task Save_of_an_oversized_body_is_a_413()
    {
        var (client, _) = await DeveloperAsync();
        var id = await CreateWorkflowAsync(client, cluster: null);
        var huge = new JsonObject { ["nodes"] = new JsonArray(Node("n1", "configmap", new { name = "big", data = new { BLOB = new string('x', 5 << 20) } })), ["edges"] = new JsonArray() };

        await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/save", huge)).ShouldBeErrorAsync(HttpStatusCode.RequestEntityTooLarge);
    }
}
