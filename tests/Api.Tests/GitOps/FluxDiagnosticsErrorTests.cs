using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>The per-object diagnostics routes (events, history, logs) name a missing object (404) and an unknown
/// resource type (400), as the action routes do.</summary>
public sealed class FluxDiagnosticsErrorTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    [Theory]
    [InlineData("events")]
    [InlineData("history")]
    [InlineData("logs")]
    public async Task A_missing_object_is_a_404_with_the_clusters_message(string route)
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        Api.Store.SetPodLog("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", """{"msg":"x","namespace":"flux-system","name":"missing"}""");

        var response = await viewer.GetAsync($"/api/v1/flux/kustomizations/flux-system/missing/{route}");

        (await response.ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString().ShouldBe("kustomizations.kustomize.toolkit.fluxcd.io \"missing\" not found");
        Api.RequestsTo("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/missing").Count.ShouldBe(1);
        Api.Requests.ShouldNotContain(request => request.Path.EndsWith("/log", StringComparison.Ordinal) || request.Path.EndsWith("/events", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("events")]
    [InlineData("history")]
    [InlineData("logs")]
    public async Task An_unknown_resource_type_is_a_400_naming_the_valid_ones(string route)
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var response = await viewer.GetAsync($"/api/v1/flux/widgets/flux-system/apps/{route}");

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        body.GetProperty("details").GetProperty("resourceType").ToString().ShouldContain("Invalid resource type: widgets. Valid types:");
        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task The_history_of_a_deleted_object_stays_readable_and_an_existing_object_without_history_is_empty()
    {
        var cluster = await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        await Fixture.ExecuteAsync(
            """
            INSERT INTO gitops.reconciliation_history (id, cluster_id, resource_type, namespace, name, revision, status, reconcile_completed_at)
            VALUES (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'deleted', 'r1', 'success', now())
            """,
            new { Cluster = cluster });

        var deleted = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/deleted/history")).ShouldBeJsonAsync();
        var filteredOut = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/deleted/history?status=failure")).ShouldBeJsonAsync();
        var existing = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/history")).ShouldBeJsonAsync();

        deleted.GetProperty("total").GetInt32().ShouldBe(1);
        filteredOut.GetProperty("total").GetInt32().ShouldBe(0);
        existing.GetProperty("total").GetInt32().ShouldBe(0);
        Api.Requests.Select(request => request.Path).ShouldBe(["/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps"]);
    }
}
