using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Clusters;

/// <summary>Seed 002's live routes: test, refresh, status, metrics, connection logs.</summary>
public sealed class ClusterHealthRoutesTests(ClustersFixture fixture, FakeKubernetesFixture fake) : ClustersTest(fixture, fake)
{
    [Fact]
    public async Task Test_reports_healthy_with_version_nodes_and_checks_and_records_it()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "live", user.Id, scope: "user");

        var body = await (await developer.PostAsync("/v1/api/clusters/live/test", null)).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["message", "cluster", "status", "clusterStatus", "version", "nodes", "connected", "error", "checks", "timestamp"]);
        body.GetProperty("message").GetString().ShouldBe("Connection test successful");
        body.GetProperty("status").GetString().ShouldBe("healthy");
        body.GetProperty("clusterStatus").GetString().ShouldBe("connected");
        body.GetProperty("version").GetString().ShouldBe("v1.30.4");
        body.GetProperty("nodes").GetInt32().ShouldBe(2);
        body.GetProperty("checks").EnumerateArray().Select(check => check.GetProperty("name").GetString())
            .ShouldBe(["Credentials", "API Server Reachability", "Kubernetes Version", "Authentication", "Authorization"]);
        body.GetProperty("checks").EnumerateArray().ShouldAllBe(check => check.GetProperty("passed").GetBoolean());
        (await Fixture.ScalarAsync<string>("SELECT action FROM clusters.connection_logs")).ShouldBe("connection_test");
        (await Fixture.ScalarAsync<DateTime?>("SELECT last_check FROM clusters.clusters")).ShouldNotBeNull();
    }

    [Fact]
    public async Task A_failed_test_is_a_503_and_is_still_recorded()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterUnreachableClusterAsync("gone", user.Id, scope: "user");

        var response = await developer.PostAsync("/v1/api/clusters/gone/test", null);

        (await response.ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable)).GetProperty("message").GetString()!.ShouldStartWith("Connection test of cluster 'gone' failed: Kubernetes cluster 'gone' is unreachable");
        (await Fixture.ScalarAsync<string>("SELECT status FROM clusters.clusters")).ShouldBe("disconnected");
        (await Fixture.ScalarAsync<bool>("SELECT success FROM clusters.connection_logs")).ShouldBeFalse();
    }

    [Fact]
    public async Task Test_and_refresh_need_a_developer_and_a_visible_cluster()
    {
        var (viewer, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "private", (await Fixture.CreateUserAsync(BaseRole.Developer)).Id, scope: "user");

        await (await viewer.PostAsync("/v1/api/clusters/private/test", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await viewer.PostAsync("/v1/api/clusters/private/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await developer.PostAsync("/v1/api/clusters/private/test", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await developer.PostAsync("/v1/api/clusters/private/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await Client.PostAsync("/v1/api/clusters/private/test", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Refresh_reads_and_stores_the_metadata()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "meta", user.Id, scope: "user");

        var body = await (await developer.PostAsync("/v1/api/clusters/meta/refresh", null)).ShouldBeJsonAsync();

        body.GetProperty("message").GetString().ShouldBe("Metadata refreshed successfully");
        var metadata = body.GetProperty("metadata");
        metadata.GetProperty("version").GetString().ShouldBe("v1.30.4");
        metadata.GetProperty("platform").GetString().ShouldBe("linux");
        metadata.GetProperty("memoryCapacity").GetString().ShouldBe("15.4Gi");
        metadata.GetProperty("namespaces").EnumerateArray().Select(ns => ns.GetString()).ShouldBe(["apps", "cert-manager", "default", "flux-system"]);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'region' FROM clusters.clusters")).ShouldBe("eu-west-1");
    }

    [Fact]
    public async Task Refresh_of_an_unreachable_cluster_is_a_503()
    {
        var (developer, user) = await Fixture.ClientAsAsync(BaseRole.Developer);
        await Fixture.RegisterUnreachableClusterAsync("gone", user.Id, scope: "user");

        await (await developer.PostAsync("/v1/api/clusters/gone/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
    }

    [Fact]
    public async Task Status_reports_the_last_check_without_calling_the_cluster()
    {
        var (viewer, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await Fixture.RegisterClusterAsync(Api, "checked", user.Id, scope: "user");
        await Fixture.ExecuteAsync("UPDATE clusters.clusters SET last_check = now() - interval '10 minutes'");
        Api.ClearRequests();

        var body = await (await viewer.GetAsync("/v1/api/clusters/checked/status")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["cluster", "status", "lastCheck", "isStale", "isOnline", "lastError"]);
        body.GetProperty("isStale").GetBoolean().ShouldBeTrue();
        body.GetProperty("isOnline").GetBoolean().ShouldBeTrue();
        Api.Requests.ShouldBeEmpty();
        await (await viewer.GetAsync("/v1/api/clusters/nope/status")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Metrics_sum_nodes_pods_and_usage()
    {
        var (viewer, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await Fixture.RegisterClusterAsync(Api, "measured", user.Id, scope: "user");

        var body = await (await viewer.GetAsync("/v1/api/clusters/measured/metrics")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["clusterName", "health", "resources", "nodeCount", "podCount", "lastUpdated", "usageSource"]);
        body.GetProperty("nodeCount").GetInt32().ShouldBe(2);
        body.GetProperty("podCount").GetInt32().ShouldBe(4);
        body.GetProperty("usageSource").GetString().ShouldBe("capacity-minus-allocatable");
        var cpu = body.GetProperty("resources").GetProperty("cpu");
        cpu.GetProperty("capacity").GetDecimal().ShouldBe(4000);
        cpu.GetProperty("used").GetDecimal().ShouldBe(140);
        cpu.GetProperty("percentage").GetDecimal().ShouldBe(3.5m);
        body.GetProperty("health").EnumerateArray().Select(component => (component.GetProperty("name").GetString(), component.GetProperty("status").GetString()))
            .ShouldBe([("API Server", "healthy"), ("Scheduler", "unknown"), ("Controller", "unknown"), ("etcd", "healthy")]);
    }

    [Fact]
    public async Task Logs_are_newest_first_and_limited()
    {
        var (viewer, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var id = await Fixture.RegisterClusterAsync(Api, "logged", user.Id, scope: "user");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO clusters.connection_logs (id, cluster_id, action, success, created_at) VALUES
                (gen_random_uuid(), @Id, 'cluster_added', true, now() - interval '2 minutes'),
                (gen_random_uuid(), @Id, 'health_check', false, now() - interval '1 minute'),
                (gen_random_uuid(), @Id, 'connection_test', true, now())
            """,
            new { Id = id });

        var body = await (await viewer.GetAsync("/v1/api/clusters/logged/logs?limit=2")).ShouldBeJsonAsync();

        body.GetProperty("cluster").GetString().ShouldBe("logged");
        var logs = body.GetProperty("logs").EnumerateArray().ToList();
        logs.Select(log => log.GetProperty("action").GetString()).ShouldBe(["connection_test", "health_check"]);
        logs[0].PropertyNames().ShouldBe(["id", "clusterId", "userId", "action", "success", "error", "details", "timestamp"]);
        await (await viewer.GetAsync("/v1/api/clusters/logged/logs?limit=0")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await viewer.GetAsync("/v1/api/clusters/logged/logs?limit=1001")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await Client.GetAsync("/v1/api/clusters/logged/logs")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}
