using Capstan.Features.GitOps;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.GitOps;

[Collection(GitOpsHandlerCollection.Name)]
public sealed class FluxHistoryRetentionTests(GitOpsHandlerFixture fixture, FakeKubernetesFixture fake)
    : HandlerTest<GitOpsHandlerFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    [Fact]
    public async Task Old_successes_go_failures_stay_a_year_and_each_resource_keeps_100()
    {
        var cluster = await Fixture.RegisterClusterAsync(fake.Api, "prod");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO gitops.reconciliation_history (id, cluster_id, resource_type, namespace, name, revision, status, reconcile_completed_at)
            SELECT gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'busy', 'r' || n, 'success', now() - n * interval '1 minute'
            FROM generate_series(1, 105) n;
            INSERT INTO gitops.reconciliation_history (id, cluster_id, resource_type, namespace, name, revision, status, reconcile_completed_at) VALUES
                (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'old', 'old-success', 'success', now() - interval '91 days'),
                (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'old', 'old-failure', 'failure', now() - interval '200 days'),
                (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'old', 'ancient-failure', 'failure', now() - interval '400 days');
            """,
            new { Cluster = cluster });

        (await Fixture.Services.GetRequiredService<FluxHistoryRetention>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM gitops.reconciliation_history WHERE name = 'busy'")).ShouldBe(100);
        (await Fixture.ScalarAsync<string>("SELECT min(revision) FROM gitops.reconciliation_history WHERE name = 'busy' AND revision = 'r1'")).ShouldBe("r1", "the newest are kept");
        (await Fixture.QueryAsync<string>("SELECT revision FROM gitops.reconciliation_history WHERE name = 'old'")).ShouldBe(["old-failure"]);
    }
}
