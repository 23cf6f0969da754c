using System.Text.Json.Nodes;
using Capstan.Features.Clusters;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;

namespace Capstan.Features.Tests.Clusters;

/// <summary>A named cluster's health: the connection test and the refresh (what they store and log), the stored
/// status, the metrics read from the cluster and the connection log; hidden clusters are not found.</summary>
public sealed class ClusterHealthHandlerTests(ClustersHandlerFixture fixture, FakeKubernetesFixture fake) : ClusterSliceHandlerTest(fixture, fake)
{
    [Fact]
    public async Task Test_reports_a_healthy_cluster_stores_the_check_and_logs_it()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await Fixture.RegisterClusterAsync(Api, "checked", developer.Id, scope: "user");
        await Fixture.ExecuteAsync("UPDATE clusters.clusters SET status = 'error', last_error = 'old', version = NULL");

        var response = await Fixture.SendAsAsync(developer, new TestCluster.Command("checked"));

        (response.Message, response.Cluster, response.Status, response.ClusterStatus, response.Version, response.Nodes, response.Connected, response.Error)
            .ShouldBe(("Connection test successful", "checked", "healthy", "connected", (string?)"v1.30.4", (int?)2, true, (string?)null));
        response.Checks.Select(check => check.Name).ShouldBe(["Credentials", "API Server Reachability", "Kubernetes Version", "Authentication", "Authorization"]);
        response.Checks.ShouldAllBe(check => check.Passed);
        var stored = await StoredAsync("checked");
        (stored.Status, stored.LastError, stored.Version).ShouldBe(("connected", (string?)null, (string?)"v1.30.4"));
        (await Fixture.ScalarAsync<DateTime>("SELECT last_check FROM clusters.clusters")).ShouldBe(response.Timestamp.UtcDateTime, TimeSpan.FromMilliseconds(1));
        var log = (await ConnectionLogsAsync()).Single();
        (log.ClusterId, log.UserId, log.Action, log.Success).ShouldBe((id, (Guid?)developer.Id, "connection_test", true));
        JsonNode.Parse(log.Details)!["nodes"]!.GetValue<int>().ShouldBe(2);
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceId, audit.Result).ShouldBe(("cluster.test", id.ToString(), "success"));
    }

    [Fact]
    public async Task Test_of_an_unreachable_cluster_answers_failed_and_still_records_it()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterUnreachableClusterAsync("gone", developer.Id, scope: "user");

        var response = await Fixture.SendAsAsync(developer, new TestCluster.Command("gone"));

        (response.Message, response.Status, response.ClusterStatus, response.Connected).ShouldBe(("Connection test failed", "failed", "disconnected", false));
        response.Error!.ShouldContain("unreachable");
        var stored = await StoredAsync("gone");
        stored.Status.ShouldBe("disconnected");
        stored.LastError.ShouldBe(response.Error);
        (await ConnectionLogsAsync()).Single().Success.ShouldBeFalse();
        (await AuditAsync()).Single().Result.ShouldBe("failure");
    }

    [Fact]
    public async Task Test_and_refresh_hide_another_users_cluster_and_validate_the_name()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "theirs", other.Id, scope: "user");

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new TestCluster.Command("theirs")));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new RefreshCluster.Command("theirs")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new TestCluster.Command(string.Empty)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new RefreshCluster.Command(new string('n', 101))));

        Api.Requests.ShouldBeEmpty();
        (await ConnectionLogsAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Refresh_reads_the_metadata_and_stores_it()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await Fixture.RegisterClusterAsync(Api, "refreshed", developer.Id, scope: "user");
        await Fixture.ExecuteAsync("UPDATE clusters.clusters SET status = 'error', last_error = 'old'");

        var response = await Fixture.SendAsAsync(developer, new RefreshCluster.Command("refreshed"));

        response.Message.ShouldBe("Metadata refreshed successfully");
        (response.Metadata.Version, response.Metadata.Platform, response.Metadata.Region, response.Metadata.NodeCount).ShouldBe(("v1.30.4", "linux", "eu-west-1", 2));
        response.Metadata.Namespaces.ShouldBe(["apps", "cert-manager", "default", "flux-system"]);
        var stored = await StoredAsync("refreshed");
        (stored.Status, stored.LastError, stored.Version).ShouldBe(("connected", (string?)null, (string?)"v1.30.4"));
        var metadata = JsonNode.Parse(stored.Metadata)!;
        metadata["region"]!.GetValue<string>().ShouldBe("eu-west-1");
        metadata["memoryCapacity"]!.GetValue<string>().ShouldBe("15.4Gi");
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceId).ShouldBe(("cluster.refresh", id.ToString()));
        JsonNode.Parse(audit.Metadata)!["nodes"]!.GetValue<int>().ShouldBe(2);
    }

    [Fact]
    public async Task Refresh_of_an_unreachable_cluster_fails_and_changes_nothing()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterUnreachableClusterAsync("gone", developer.Id, scope: "user");

        var exception = await Record.ExceptionAsync(() => Fixture.SendAsAsync(developer, new RefreshCluster.Command("gone")));

        exception.ShouldBeAssignableTo<ApiException>()!.StatusCode.ShouldBe(503);
        var stored = await StoredAsync("gone");
        (stored.Status, stored.Metadata).ShouldBe(("connected", "{}"));
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Status_reports_the_stored_check_without_calling_the_cluster()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await Fixture.RegisterClusterAsync(Api, "stale", viewer.Id, scope: "user");
        await Fixture.RegisterClusterAsync(Api, "fresh", viewer.Id, scope: "user");
        await Fixture.RegisterClusterAsync(Api, "broken", viewer.Id, scope: "user");
        await Fixture.ExecuteAsync("UPDATE clusters.clusters SET last_check = now() - interval '10 minutes' WHERE name = 'stale'");
        await Fixture.ExecuteAsync("UPDATE clusters.clusters SET last_check = now() - interval '30 seconds' WHERE name = 'fresh'");
        await Fixture.ExecuteAsync("UPDATE clusters.clusters SET last_check = now(), status = 'error', last_error = 'Unauthorized' WHERE name = 'broken'");

        var stale = await Fixture.SendAsAsync(viewer, new GetClusterStatus.Query("stale"));
        var fresh = await Fixture.SendAsAsync(viewer, new GetClusterStatus.Query("fresh"));
        var broken = await Fixture.SendAsAsync(viewer, new GetClusterStatus.Query("broken"));

        (stale.Cluster, stale.Status, stale.IsStale, stale.IsOnline).ShouldBe(("stale", "connected", true, true));
        (fresh.IsStale, fresh.IsOnline).ShouldBe((false, true));
        (broken.Status, broken.IsStale, broken.IsOnline, broken.LastError).ShouldBe(("error", false, false, (string?)"Unauthorized"));
        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Status_of_a_never_checked_cluster_is_stale_and_a_hidden_one_is_not_found()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "unchecked");
        await Fixture.RegisterClusterAsync(Api, "theirs", other.Id, scope: "user");

        var response = await Fixture.SendAsAsync(viewer, new GetClusterStatus.Query("unchecked"));

        (response.LastCheck, response.IsStale).ShouldBe(((DateTime?)null, true));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetClusterStatus.Query("theirs")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetClusterStatus.Query(string.Empty)));
    }

    [Fact]
    public async Task Metrics_sum_nodes_pods_and_usage_from_the_cluster()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await Fixture.RegisterClusterAsync(Api, "measured", viewer.Id, scope: "user");

        var metrics = await Fixture.SendAsAsync(viewer, new GetClusterMetrics.Query("MEASURED"));

        (metrics.ClusterName, metrics.NodeCount, metrics.PodCount, metrics.UsageSource).ShouldBe(("measured", 2, 4, "capacity-minus-allocatable"));
        (metrics.Resources.Cpu.Capacity, metrics.Resources.Cpu.Used, metrics.Resources.Cpu.Percentage).ShouldBe((4000m, 140m, 3.5m));
        metrics.Health.Select(component => (component.Name, component.Status)).ShouldBe([("API Server", "healthy"), ("Scheduler", "unknown"), ("Controller", "unknown"), ("etcd", "healthy")]);
        Api.Requests.ShouldContain(request => request.Path == "/api/v1/nodes");
    }

    [Fact]
    public async Task Metrics_of_a_hidden_cluster_are_not_found_and_the_name_is_validated()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "theirs", other.Id, scope: "user");

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetClusterMetrics.Query("theirs")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetClusterMetrics.Query(new string('n', 101))));

        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Logs_are_the_clusters_own_newest_first_and_limited()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await Fixture.RegisterClusterAsync(Api, "logged", viewer.Id, scope: "user");
        var other = await Fixture.RegisterClusterAsync(Api, "other", viewer.Id, scope: "user");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO clusters.connection_logs (id, cluster_id, user_id, action, success, error, details, created_at) VALUES
                (gen_random_uuid(), @Id, NULL, 'cluster_added', true, NULL, '{}', now() - interval '3 minutes'),
                (gen_random_uuid(), @Id, NULL, 'health_check', false, 'timeout', '{"status":"disconnected"}', now() - interval '2 minutes'),
                (gen_random_uuid(), @Id, @User, 'connection_test', true, NULL, '{}', now() - interval '1 minute'),
                (gen_random_uuid(), @Other, NULL, 'connection_test', true, NULL, '{}', now())
            """,
            new { Id = id, Other = other, User = viewer.Id });

        var two = await Fixture.SendAsAsync(viewer, new GetClusterLogs.Query("logged", 2));
        var all = await Fixture.SendAsAsync(viewer, new GetClusterLogs.Query("logged", 1000));

        two.Cluster.ShouldBe("logged");
        two.Logs.Select(log => log.Action).ShouldBe(["connection_test", "health_check"]);
        two.Logs[0].UserId.ShouldBe(viewer.Id);
        two.Logs[0].Details.ShouldBeNull("an empty details object is shown as null");
        two.Logs[1].Error.ShouldBe("timeout");
        two.Logs[1].Details!["status"]!.GetValue<string>().ShouldBe("disconnected");
        all.Logs.Select(log => log.Action).ShouldBe(["connection_test", "health_check", "cluster_added"]);
        all.Logs.ShouldAllBe(log => log.ClusterId == id);
    }

    [Theory]
    [InlineData("logged", 0)]
    [InlineData("logged", 1001)]
    [InlineData("", 50)]
    public async Task Logs_validate_the_name_and_limit(string name, int limit)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await Fixture.RegisterClusterAsync(Api, "logged", viewer.Id, scope: "user");

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetClusterLogs.Query(name, limit)));
    }

    [Fact]
    public async Task Logs_of_a_hidden_cluster_are_not_found()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.RegisterClusterAsync(Api, "theirs", other.Id, scope: "user");

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetClusterLogs.Query("theirs", 50)))).Message.ShouldBe("Cluster not found");
    }
}
