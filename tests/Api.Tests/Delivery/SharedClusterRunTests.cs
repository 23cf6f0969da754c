using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>A run on a cluster another user shared with the caller (cluster resolution owned → shared → default, issue
/// 5 item 3): the cluster is shared through the seed-002 share route and the objects land on the API server behind it,
/// not on the caller's own default; a cluster of another user that was not shared is not found.</summary>
public sealed class SharedClusterRunTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private static string[] AppliedPaths(FakeKubernetesApi api) =>
        [.. api.Requests.Where(request => request.Method == "PATCH" && request.ContentType == KubernetesPatch.ApplyPatchType).Select(request => request.Path)];

    [Fact]
    public async Task A_workflow_naming_a_cluster_shared_with_the_caller_is_applied_on_that_cluster()
    {
        // A owns "team-a" (this class's fake API server); B's own default cluster is another API server.
        var (ownerClient, owner) = await DeveloperAsync();
        var (client, user) = await DeveloperAsync();
        var sharedId = await RegisterClusterAsync("team-a", owner.Id);
        await using var elsewhere = await FakeKubernetesApi.StartAsync();
        await Fixture.RegisterClusterAsync(elsewhere, "b-home", user.Id, "user", isDefaultFor: true);

        // Before the share, B cannot name A's cluster.
        (await (await client.PostAsJsonAsync("/v1/api/workflows", new { name = "early", cluster_id = "team-a" })).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Cluster 'team-a' not found");

        var shared = await (await ownerClient.PostAsJsonAsync("/v1/api/clusters/team-a/share", new { targetUserId = user.Id, role = "editor" })).ShouldBeJsonAsync();
        shared.GetProperty("message").GetString().ShouldBe("Cluster shared successfully");

        var id = await PublishedWebAppAsync(client, cluster: "team-a");
        Api.ClearRequests();
        elsewhere.ClearRequests();
        var run = await RunAsync(client, id);

        run.GetProperty("status").GetString().ShouldBe("completed", string.Join('\n', run.GetProperty("logs").EnumerateArray()));
        run.GetProperty("cluster").GetString().ShouldBe("team-a");
        AppliedPaths(Api).ShouldBe(["/api/v1/namespaces/default/services/web-svc", "/apis/apps/v1/namespaces/default/deployments/web"]);
        Api.Store.Get("apps/v1", "Deployment", "default", "web")!["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.ToString().ShouldBe("nginx:1.25");
        Api.Store.Get("v1", "Service", "default", "web-svc")!["spec"]!["selector"]!.ToJsonString().ShouldBe("""{"app":"web"}""");
        elsewhere.Requests.ShouldBeEmpty("B's own default cluster is not touched");
        elsewhere.Store.Get("apps/v1", "Deployment", "default", "web").ShouldBeNull();

        // The run record names the shared cluster, by name in the history and by id in the database.
        var recorded = (await (await client.GetAsync($"/v1/api/workflows/{id}/runs")).ShouldBeJsonAsync()).GetProperty("runs").EnumerateArray().Single();
        recorded.GetProperty("id").GetGuid().ShouldBe(run.GetProperty("run_id").GetGuid());
        recorded.GetProperty("cluster").GetString().ShouldBe("team-a");
        (await Fixture.ScalarAsync<Guid>("SELECT cluster_id FROM delivery.workflow_runs WHERE id = @Id", new { Id = run.GetProperty("run_id").GetGuid() })).ShouldBe(sharedId);
        (await Fixture.QueryAsync<Guid>("SELECT DISTINCT cluster_id FROM delivery.workflow_objects WHERE workflow_id = @Id", new { Id = id })).ShouldBe([sharedId]);

        // The seed's {cluster} form reaches the shared cluster too, for a workflow that names none.
        var other = await CreateWorkflowAsync(client, "other", cluster: null, nodes: [Node("c", "configmap", new { name = "settings", data = new { A = "1" } })]);
        await SetStatusAsync(client, other, "published");
        var seedForm = await RunAsync(client, other, new { cluster = "team-a" });
        seedForm.GetProperty("cluster").GetString().ShouldBe("team-a");
        Api.Store.Get("v1", "ConfigMap", "default", "settings").ShouldNotBeNull();
        elsewhere.Store.Get("v1", "ConfigMap", "default", "settings").ShouldBeNull();
    }

    [Fact]
    public async Task Another_users_cluster_that_was_not_shared_is_not_found_and_nothing_is_run()
    {
        var (ownerClient, owner) = await DeveloperAsync();
        var (client, user) = await DeveloperAsync();
        await RegisterClusterAsync("a-private", owner.Id);
        await using var elsewhere = await FakeKubernetesApi.StartAsync();
        await Fixture.RegisterClusterAsync(elsewhere, "b-home", user.Id, "user", isDefaultFor: true);
        var (third, thirdUser) = await DeveloperAsync();
        (await (await ownerClient.PostAsJsonAsync("/v1/api/clusters/a-private/share", new { targetUserId = thirdUser.Id, role = "editor" })).ShouldBeJsonAsync())
            .GetProperty("message").GetString().ShouldBe("Cluster shared successfully", "shared, but with someone else");

        (await (await client.PostAsJsonAsync("/v1/api/workflows", new { name = "shop", cluster_id = "a-private" })).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Cluster 'a-private' not found");
        var id = await PublishedWebAppAsync(client, cluster: null);
        Api.ClearRequests();
        elsewhere.ClearRequests();

        (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/run", new { cluster = "a-private" })).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Cluster 'a-private' not found", "no fallback to the caller's default");
        (await (await client.PostAsJsonAsync("/v1/api/clusters/a-private/share", new { targetUserId = user.Id, role = "admin" })).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Cluster not found", "only the owner shares a cluster, and B cannot see it");
        (await (await third.PostAsJsonAsync($"/v1/api/workflows/{id}/run", new { cluster = "a-private" })).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Workflow not found");

        Api.Requests.ShouldBeEmpty();
        elsewhere.Requests.ShouldBeEmpty();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflow_runs WHERE workflow_id = @Id", new { Id = id })).ShouldBe(0);
        (await (await client.GetAsync($"/v1/api/workflows/{id}")).ShouldBeJsonAsync()).GetProperty("current_version").GetInt64().ShouldBe(1, "no snapshot was taken");
    }
}
