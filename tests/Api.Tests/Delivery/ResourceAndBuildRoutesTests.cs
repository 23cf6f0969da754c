using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>Resources synced from the fake cluster (list, get, patch, pods, streams) and builds as Jobs (start, list,
/// get, stream, cancel).</summary>
public sealed class ResourceAndBuildRoutesTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private async Task<HttpClient> SyncedAsync()
    {
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("prod", user.Id);
        var sync = await (await client.PostAsync("/v1/api/resources/sync", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        sync.GetProperty("message").GetString().ShouldBe("Sync started for all clusters");
        await WaitUntilAsync(async () => await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.resources WHERE user_id = @User AND kind = 'Pod'", new { User = user.Id }) >= 3, "the sync");
        await WaitUntilAsync(async () => await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.resource_syncs WHERE status = 'running'") == 0, "the sync's end");
        return client;
    }

    private static async Task<System.Text.Json.JsonElement> FindAsync(HttpClient client, string type, string name) =>
        (await (await client.GetAsync($"/v1/api/resources?type={type}&search={name}&limit=100")).ShouldBeJsonAsync())
            .GetProperty("resources").EnumerateArray().Single(resource => resource.GetProperty("name").GetString() == name);

    [Fact]
    public async Task Sync_list_get_and_patch_resources()
    {
        var client = await SyncedAsync();

        var list = await (await client.GetAsync("/v1/api/resources?namespace=flux-system&type=Deployment&sort_by=name&sort_order=asc&limit=2&offset=1")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["resources", "total", "limit", "offset", "sync"]);
        list.GetProperty("sync").GetProperty("status").GetString().ShouldBe("completed");
        list.GetProperty("total").GetInt64().ShouldBe(3);
        list.GetProperty("resources").EnumerateArray().Select(resource => resource.GetProperty("name").GetString()).ShouldBe(["kustomize-controller", "source-controller"]);
        var first = list.GetProperty("resources")[0];
        foreach (var field in new[] { "id", "name", "namespace", "type", "clusterName", "status", "createdAt", "isFavorite", "summary" })
        {
            first.PropertyNames().ShouldContain(field);
        }

        first.GetProperty("summary").PropertyNames().ShouldContain("replicas");
        var id = first.GetProperty("id").GetGuid();
        var one = await (await client.GetAsync($"/v1/api/resources/{id}")).ShouldBeJsonAsync();
        one.PropertyNames().ShouldBe(["resource", "history"]);
        one.GetProperty("resource").GetProperty("name").GetString().ShouldBe("kustomize-controller");

        var patched = await (await client.PatchAsJsonAsync($"/v1/api/resources/{id}", new { userTags = new[] { "core" }, userNotes = "watch it", isFavorite = true })).ShouldBeJsonAsync();
        patched.GetProperty("message").GetString().ShouldBe("Resource updated successfully");
        var after = (await (await client.GetAsync($"/v1/api/resources/{id}")).ShouldBeJsonAsync()).GetProperty("resource");
        after.GetProperty("userNotes").GetString().ShouldBe("watch it");
        after.GetProperty("isFavorite").GetBoolean().ShouldBeTrue();
        (await (await client.PatchAsJsonAsync($"/v1/api/resources/{id}", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("body", out _).ShouldBeTrue();
        (await (await client.PatchAsJsonAsync($"/v1/api/resources/{id}", new { userTags = new[] { "" } })).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("userTags", out _).ShouldBeTrue();
        (await (await client.GetAsync("/v1/api/resources?limit=101")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("limit", out _).ShouldBeTrue();
        var hidden = await (await client.GetAsync("/v1/api/resources?hideSystem=true&type=Node")).ShouldBeJsonAsync();
        hidden.GetProperty("total").GetInt64().ShouldBe(0);
    }

    [Fact]
    public async Task Pods_of_a_deployment_and_the_pod_log_stream()
    {
        var client = await SyncedAsync();
        var deployment = await FindAsync(client, "Deployment", "kustomize-controller");
        var pod = await FindAsync(client, "Pod", "kustomize-controller-7b8c9d6f4-q8w2e");
        Api.Store.SetPodLog("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", "2026-01-01T00:00:00Z line one\n2026-01-01T00:00:01Z line two\n");

        var pods = await (await client.GetAsync($"/v1/api/resources/{deployment.GetProperty("id").GetGuid()}/pods")).ShouldBeJsonAsync();
        pods.PropertyNames().ShouldBe(["parent", "pods", "count"]);
        pods.GetProperty("pods").EnumerateArray().Select(item => item.GetProperty("name").GetString()).ShouldBe(["kustomize-controller-7b8c9d6f4-q8w2e"]);
        (await (await client.GetAsync($"/v1/api/resources/{pod.GetProperty("id").GetGuid()}/pods")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("Resource type does not have child resources");

        using var logs = await OpenSseAsync(client, $"/v1/api/resources/{pod.GetProperty("id").GetGuid()}/logs/stream?follow=false");
        var metadata = await logs.NextAsync(Patience);
        metadata!.Event.ShouldBe("metadata");
        metadata.Json.GetProperty("pod").GetString().ShouldBe("kustomize-controller-7b8c9d6f4-q8w2e");
        (await logs.NextAsync("log", Patience)).Data.ShouldContain("line one");
        (await logs.NextAsync("log", Patience)).Data.ShouldContain("line two");
        (await logs.NextAsync("complete", Patience)).ShouldNotBeNull();
        (await (await client.GetAsync($"/v1/api/resources/{deployment.GetProperty("id").GetGuid()}/logs/stream")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("Only pods have logs. This resource is not a pod.");

        using var status = await OpenSseAsync(client, $"/v1/api/resources/{deployment.GetProperty("id").GetGuid()}/stream");
        var first = await status.NextAsync(Patience);
        first!.Event.ShouldBe("metadata");
        first.Json.GetProperty("name").GetString().ShouldBe("kustomize-controller");
    }

    private async Task<(HttpClient Client, Guid Registry)> BuilderAsync()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var registry = await (await admin.PostAsJsonAsync("/v1/api/admin/registries", new { name = "hub", registryType = "dockerhub", credentials = new { username = "me", password = "pw" } })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var (client, _) = await DeveloperAsync();
        await RegisterClusterAsync();
        return (client, registry.GetProperty("registry").GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Start_creates_the_build_job_list_get_and_cancel_delete_it()
    {
        var (client, registry) = await BuilderAsync();

        var response = await client.PostAsJsonAsync("/v1/api/builds/start", new { repoUrl = "https://git.example.com/shop/web.git", branch = "main", registryId = registry, imageName = "web", imageTag = "v1", cluster = "prod" });

        var started = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        started.PropertyNames().ShouldBe(["build", "message"]);
        started.GetProperty("message").GetString().ShouldBe("Build started successfully");
        var build = started.GetProperty("build");
        foreach (var field in new[] { "id", "userId", "repoUrl", "branch", "registryId", "imageName", "imageTag", "status", "currentStage", "progress", "createdAt" })
        {
            build.PropertyNames().ShouldContain(field);
        }

        var id = build.GetProperty("id").GetGuid();
        var jobs = Api.Store.All("batch/v1", "Job");
        var job = jobs.Single(item => item["metadata"]!["namespace"]!.ToString() == "kubeorch-builds");
        job.ToJsonString().ShouldContain("registry.local/kaniko:test");
        job.ToJsonString().ShouldContain("https://git.example.com/shop/web.git");
        Api.Store.All("v1", "Secret").ShouldContain(secret => secret["metadata"]!["namespace"]!.ToString() == "kubeorch-builds");

        var list = await (await client.GetAsync("/v1/api/builds?limit=10")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["builds", "total", "limit", "offset"]);
        list.GetProperty("builds").EnumerateArray().Single().GetProperty("id").GetGuid().ShouldBe(id);
        var one = await (await client.GetAsync($"/v1/api/builds/{id}")).ShouldBeJsonAsync();
        one.PropertyNames().ShouldBe(["build"]);

        using var stream = await OpenSseAsync(client, $"/v1/api/builds/{id}/stream");
        (await stream.NextAsync(Patience))!.Event.ShouldBe("metadata");
        var cancelled = await (await client.PostAsync($"/v1/api/builds/{id}/cancel", null)).ShouldBeJsonAsync();
        cancelled.GetProperty("message").GetString().ShouldBe("Build cancelled successfully");
        Api.Store.All("batch/v1", "Job").ShouldBeEmpty();
        (await stream.NextAsync("cancelled", Patience)).ShouldNotBeNull();
        (await (await client.PostAsync($"/v1/api/builds/{id}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("build is already in terminal state: cancelled");
        using var finished = await OpenSseAsync(client, $"/v1/api/builds/{id}/stream");
        (await finished.NextAsync(Patience))!.Event.ShouldBe("metadata");
        (await finished.NextAsync(Patience))!.Event.ShouldBe("complete");
    }

    [Fact]
    public async Task A_successful_build_completes_on_its_stream_and_updates_the_workflows_deployment_image()
    {
        var (client, registry) = await BuilderAsync();
        var workflow = await CreateWorkflowAsync(client, nodes: [Node("d", "deployment", new { name = "web", image = "me/web:old" }), Node("c", "configmap", new { name = "cfg" })]);
        var started = await (await client.PostAsJsonAsync("/v1/api/builds/start", new { repoUrl = "https://git.example.com/shop/web.git", registryId = registry, imageName = "web", imageTag = "v2", workflowId = workflow })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = started.GetProperty("build").GetProperty("id").GetGuid();
        using var stream = await OpenSseAsync(client, $"/v1/api/builds/{id}/stream");
        (await stream.NextAsync(Patience))!.Event.ShouldBe("metadata");
        var job = await Fixture.ScalarAsync<string>("SELECT job_name FROM delivery.builds WHERE id = @Id", new { Id = id });
        const string Digest = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

        Api.Store.Put(System.Text.Json.Nodes.JsonNode.Parse($$$$"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"{{{{job}}}}-x1","namespace":"kubeorch-builds","labels":{"job-name":"{{{{job}}}}"}},
             "spec":{"containers":[{"name":"build","image":"registry.local/kaniko:test"}]},
             "status":{"phase":"Succeeded",
               "initContainerStatuses":[{"name":"clone","state":{"terminated":{"exitCode":0,"message":"9f8e7d6c"}}}],
               "containerStatuses":[{"name":"build","state":{"terminated":{"exitCode":0,"message":"{{{{Digest}}}}"}}}]}}
            """)!.AsObject());

        var complete = await stream.NextAsync("complete", Patience);
        complete.Data.ShouldContain(Digest);
        var build = (await (await client.GetAsync($"/v1/api/builds/{id}")).ShouldBeJsonAsync()).GetProperty("build");
        build.GetProperty("status").GetString().ShouldBe("completed");
        build.GetProperty("progress").GetInt64().ShouldBe(100);
        build.GetProperty("commitSha").GetString().ShouldBe("9f8e7d6c");
        build.GetProperty("finalImageRef").GetString().ShouldBe("docker.io/me/web@" + Digest);
        var nodes = (await (await client.GetAsync($"/v1/api/workflows/{workflow}")).ShouldBeJsonAsync()).GetProperty("nodes");
        nodes[0].GetProperty("data").GetProperty("image").GetString().ShouldBe("docker.io/me/web@" + Digest);
    }

    [Theory]
    [InlineData("""{"registryId":"00000000-0000-0000-0000-000000000001","imageName":"web"}""", "repoUrl")]
    [InlineData("""{"repoUrl":"ftp://x/y","registryId":"00000000-0000-0000-0000-000000000001","imageName":"web"}""", "repoUrl")]
    [InlineData("""{"repoUrl":"https://x/y.git","imageName":"web"}""", "registryId")]
    [InlineData("""{"repoUrl":"https://x/y.git","registryId":"00000000-0000-0000-0000-000000000001"}""", "imageName")]
    [InlineData("""{"repoUrl":"https://x/y.git","registryId":"00000000-0000-0000-0000-000000000001","imageName":"Web App"}""", "imageName")]
    [InlineData("""{"repoUrl":"https://x/y.git","registryId":"00000000-0000-0000-0000-000000000001","imageName":"web","branch":"--upload-pack=x"}""", "branch")]
    [InlineData("""{"repoUrl":"https://x/y.git","registryId":"00000000-0000-0000-0000-000000000001","imageName":"web","buildContext":"../etc"}""", "buildContext")]
    [InlineData("""{"repoUrl":"https://x/y.git","registryId":"00000000-0000-0000-0000-000000000001","imageName":"web","imageTag":"-bad"}""", "imageTag")]
    [InlineData("""{"repoUrl":"https://x/y.git","registryId":"00000000-0000-0000-0000-000000000001","imageName":"web","dockerfile":"/etc/Dockerfile"}""", "dockerfile")]
    [InlineData("""{"repoUrl":"https://x/y.git","registryId":"00000000-0000-0000-0000-000000000001","imageName":"web","buildArgs":{"1BAD":"x"}}""", "buildArgs")]
    public async Task Start_validates_each_field(string json, string field)
    {
        var (client, _) = await DeveloperAsync();

        var error = await (await client.PostAsync("/v1/api/builds/start", new StringContent(json, System.Text.Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(error.ToString());
    }

    [Fact]
    public async Task Start_with_an_unknown_registry_is_a_404_and_lists_validate()
    {
        var (client, _) = await BuilderAsync();

        await (await client.PostAsJsonAsync("/v1/api/builds/start", new { repoUrl = "https://x/y.git", registryId = Guid.CreateVersion7(), imageName = "web" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await client.GetAsync("/v1/api/builds?status=stuck")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("status", out _).ShouldBeTrue();
        Api.Store.All("batch/v1", "Job").ShouldBeEmpty();
    }

    [Fact]
    public async Task Builds_page_newest_first_by_limit_and_offset_within_their_bounds()
    {
        var (client, user) = await DeveloperAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++)
        {
            var id = Guid.CreateVersion7();
            ids.Add(id);
            await Fixture.ExecuteAsync(
                """
                INSERT INTO delivery.builds (id, user_id, repo_url, branch, image_name, image_tag, status, created_at)
                VALUES (@Id, @User, 'https://git.example/x.git', 'main', 'x', 'latest', 'completed', now() - make_interval(mins => @Age))
                """,
                new { Id = id, User = user.Id, Age = 10 - i });
        }

        async Task<(Guid[] Ids, long Total, int Limit, int Offset)> Page(string query)
        {
            var body = await (await client.GetAsync($"/v1/api/builds?{query}")).ShouldBeJsonAsync();
            return ([.. body.GetProperty("builds").EnumerateArray().Select(build => build.GetProperty("id").GetGuid())],
                body.GetProperty("total").GetInt64(), body.GetProperty("limit").GetInt32(), body.GetProperty("offset").GetInt32());
        }

        var first = await Page("limit=2");
        first.Ids.ShouldBe([ids[2], ids[1]]);
        (first.Total, first.Limit, first.Offset).ShouldBe((3L, 2, 0));
        (await Page("limit=2&offset=2")).Ids.ShouldBe([ids[0]]);
        (await Page("offset=5")).Ids.ShouldBeEmpty();
        var defaults = await Page(string.Empty);
        (defaults.Limit, defaults.Offset, defaults.Ids.Length).ShouldBe((20, 0, 3));
        (await Page("limit=100")).Limit.ShouldBe(100);

        foreach (var (query, field) in new[] { ("limit=0", "limit"), ("limit=101", "limit"), ("offset=-1", "offset"), ("limit=many", "limit") })
        {
            var error = await (await client.GetAsync($"/v1/api/builds?{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
            error.ToString().ShouldContain(field, customMessage: query);
        }

        // Values that cannot be parsed into the parameter's type at all are named, message and details alike.
        foreach (var (query, field) in new[] { ("limit=many", "limit"), ("offset=1.5", "offset"), ("workflowId=not-a-uuid", "workflowId") })
        {
            var error = await (await client.GetAsync($"/v1/api/builds?{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
            error.GetProperty("message").GetString().ShouldBe($"Invalid value for '{field}'", customMessage: query);
            error.GetProperty("details").GetProperty(field)[0].GetString().ShouldBe($"Invalid value for '{field}'", customMessage: query);
        }
    }
}
