using Capstan.Features.Clusters;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Clusters;

[Collection(ClustersHandlerCollection.Name)]
public sealed class ClusterHealthMonitorTests(ClustersHandlerFixture fixture, FakeKubernetesFixture fake)
    : HandlerTest<ClustersHandlerFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    [Fact]
    public async Task Checks_due_clusters_logs_changes_refreshes_metadata_and_trims_old_logs()
    {
        var up = await Fixture.RegisterClusterAsync(fake.Api, "up");
        var down = await Fixture.RegisterUnreachableClusterAsync("down");
        var recent = await Fixture.RegisterClusterAsync(fake.Api, "recent");
        await Fixture.ExecuteAsync("UPDATE clusters.clusters SET last_check = now() WHERE id = @Id", new { Id = recent });
        await Fixture.ExecuteAsync("INSERT INTO clusters.connection_logs (id, cluster_id, action, success, created_at) VALUES (gen_random_uuid(), @Id, 'connection_test', true, now() - interval '30 days')", new { Id = up });

        (await Fixture.Services.GetRequiredService<ClusterHealthMonitor>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        var rows = (await Fixture.QueryAsync<(Guid Id, string Status, string? Region)>("SELECT id, status, metadata->>'region' FROM clusters.clusters")).ToDictionary(row => row.Id);
        rows[up].Status.ShouldBe("connected");
        rows[up].Region.ShouldBe("eu-west-1");
        rows[down].Status.ShouldBe("disconnected");
        rows[recent].Region.ShouldBeNull("checked recently, so skipped");
        var logs = await Fixture.QueryAsync<(Guid ClusterId, string Action)>("SELECT cluster_id, action FROM clusters.connection_logs");
        logs.ShouldBe([(down, "health_check")]);
    }
}
