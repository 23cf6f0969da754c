using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Clusters;

/// <summary>Seed 001's registry: <c>GET/POST /api/v1/clusters</c>, <c>DELETE /api/v1/clusters/{clusterId}</c>, and the
/// client pool route.</summary>
public sealed class RegistryRoutesTests(ClustersFixture fixture, FakeKubernetesFixture fake) : ClustersTest(fixture, fake)
{
    [Fact]
    public async Task Register_uploads_a_kubeconfig_tests_it_and_never_returns_it()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsJsonAsync("/api/v1/clusters", new { name = "production", kubeconfig = Api.Kubeconfig(context: "prod-admin"), description = "Main" });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(
        [
            "id", "name", "description", "server", "authType", "context", "contexts", "namespace", "scope", "source", "status", "connected",
            "version", "lastCheck", "lastError", "isDefault", "ownerId", "createdAt", "updatedAt",
        ]);
        body.GetProperty("name").GetString().ShouldBe("production");
        body.GetProperty("context").GetString().ShouldBe("prod-admin");
        body.GetProperty("contexts")[0].GetProperty("server").GetString().ShouldBe(Api.BaseUrl);
        body.GetProperty("status").GetString().ShouldBe("connected");
        body.GetProperty("version").GetString().ShouldBe("v1.30.4");
        body.GetProperty("source").GetString().ShouldBe("uploaded");
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/clusters/{body.GetProperty("id").GetGuid()}");
        var stored = await Fixture.ScalarAsync<byte[]>("SELECT credentials FROM clusters.clusters WHERE name = 'production'");
        Encoding.UTF8.GetString(stored!).ShouldNotContain("clusters:");
        (await Fixture.ScalarAsync<string>("SELECT action FROM clusters.connection_logs")).ShouldBe("cluster_added");
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log WHERE action LIKE 'cluster.%'")).ShouldBe("cluster.create");
    }

    [Fact]
    public async Task Register_picks_the_named_context_and_refuses_an_unknown_one()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var kubeconfig = Api.Kubeconfig(context: "one");

        var unknown = await admin.PostAsJsonAsync("/api/v1/clusters", new { name = "ctx", kubeconfig, context = "two" });

        (await unknown.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").GetProperty("context")[0].GetString().ShouldBe("The kubeconfig has no context named 'two' (it has: one)");
    }

    [Theory]
    [InlineData("""{"kubeconfig":"apiVersion: v1"}""", "name")]
    [InlineData("""{"name":"x1y","kubeconfig":""}""", "kubeconfig")]
    [InlineData("""{"name":"a b","kubeconfig":"x"}""", "name")]
    [InlineData("""{"name":"default","kubeconfig":"x"}""", "name")]
    [InlineData("""{"name":"bad-config","kubeconfig":"kind: Pod"}""", "kubeconfig")]
    [InlineData("""{"name":"exec-config","kubeconfig":"apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://k'}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\nusers: [{name: u, user: {exec: {command: aws}}}]"}""", "kubeconfig")]
    public async Task Register_validates_its_input(string json, string field)
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/clusters", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Register_refuses_a_taken_name_whatever_its_case()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        await Fixture.RegisterClusterAsync(Api, "Staging");

        var response = await admin.PostAsJsonAsync("/api/v1/clusters", new { name = "staging", kubeconfig = Api.Kubeconfig() });

        await response.ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Register_keeps_an_unreachable_cluster_as_disconnected()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var kubeconfig = Api.Kubeconfig().Replace(Api.BaseUrl, $"http://127.0.0.1:{ClusterRegistrations.ClosedPort()}", StringComparison.Ordinal);

        var body = await (await admin.PostAsJsonAsync("/api/v1/clusters", new { name = "offline", kubeconfig })).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("status").GetString().ShouldBe("disconnected");
        body.GetProperty("connected").GetBoolean().ShouldBeFalse();
        body.GetProperty("lastError").GetString()!.ShouldContain("unreachable");
    }

    [Fact]
    public async Task Register_needs_cluster_management()
    {
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);

        await (await Client.PostAsJsonAsync("/api/v1/clusters", new { name = "x1", kubeconfig = "y" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await operatorClient.PostAsJsonAsync("/api/v1/clusters", new { name = "x1", kubeconfig = "y" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task List_shows_platform_own_and_shared_clusters_but_not_others()
    {
        var (viewer, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "platform-one");
        await Fixture.RegisterClusterAsync(Api, "mine", user.Id, scope: "user");
        var shared = await Fixture.RegisterClusterAsync(Api, "shared-with-me", stranger.Id, scope: "user");
        await Fixture.RegisterClusterAsync(Api, "strangers", stranger.Id, scope: "user");
        await Fixture.ExecuteAsync("INSERT INTO clusters.cluster_shares (cluster_id, user_id, role) VALUES (@Shared, @User, 'viewer')", new { Shared = shared, User = user.Id });

        var body = await (await viewer.GetAsync("/api/v1/clusters")).ShouldBeJsonAsync();

        body.GetProperty("clusters").EnumerateArray().Select(cluster => cluster.GetProperty("name").GetString()).ShouldBe(["platform-one", "mine", "shared-with-me"]);
        body.GetProperty("total").GetInt32().ShouldBe(3);
        await (await Client.GetAsync("/api/v1/clusters")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Remove_deletes_the_cluster_and_its_bindings()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync();
        var id = await Fixture.RegisterClusterAsync(Api, "doomed");
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.flux_bindings (id, user_id, policy_id, cluster) VALUES (gen_random_uuid(), @User, '00000000-0000-0000-0000-000000000001', @Cluster::text)",
            new { User = viewer.Id, Cluster = id });

        var body = await (await admin.DeleteAsync($"/api/v1/clusters/{id}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["success", "message", "id"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM clusters.clusters")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_bindings WHERE cluster <> ''")).ShouldBe(0);
        await (await admin.DeleteAsync($"/api/v1/clusters/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync("/api/v1/clusters/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Remove_needs_cluster_management()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        var id = await Fixture.RegisterClusterAsync(Api, "kept", user.Id, scope: "user");

        await (await developer.DeleteAsync($"/api/v1/clusters/{id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.DeleteAsync($"/api/v1/clusters/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Clear_client_pool_drops_the_pooled_clients()
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var (operatorClient, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        await Fixture.RegisterClusterAsync(Api, "pooled");
        (await admin.GetAsync("/v1/api/clusters/pooled/metrics")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var body = await (await admin.PostAsync("/api/v1/admin/k8s/clear-client-pool", null)).ShouldBeJsonAsync();

        body.GetProperty("message").GetString().ShouldBe("Connection pool cleared");
        body.GetProperty("cleared").GetInt32().ShouldBeGreaterThanOrEqualTo(1);
        await (await operatorClient.PostAsync("/api/v1/admin/k8s/clear-client-pool", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.PostAsync("/api/v1/admin/k8s/clear-client-pool", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}
