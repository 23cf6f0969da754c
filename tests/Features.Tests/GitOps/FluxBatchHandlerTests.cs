using System.Text.Json.Nodes;
using Capstan.Features.GitOps;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;

namespace Capstan.Features.Tests.GitOps;

/// <summary>The four batch slices: one call per allowed item in order, a result per item, the objects changed on the
/// fake server, the history and audit rows per success, and the validator's limits.</summary>
public sealed class FluxBatchHandlerTests(GitOpsHandlerFixture fixture, FakeKubernetesFixture fake) : FluxSliceHandlerTest(fixture, fake)
{
    private const string AppsWriter = """[{"resources":[],"namespaces":["apps"],"actions":["write"],"clusters":[]}]""";

    private static JsonObject Body(params (string Type, string Ns, string Name)[] items) => new()
    {
        ["resources"] = new JsonArray([.. items.Select(item => (JsonNode)new JsonObject { ["type"] = item.Type, ["namespace"] = item.Ns, ["name"] = item.Name })]),
    };

    [Fact]
    public async Task Batch_suspend_acts_on_allowed_items_and_reports_each()
    {
        await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, AppsWriter);
        var body = Body(("helmreleases", "apps", "podinfo"), ("Kustomization", "flux-system", "apps"), ("widgets", "apps", "x"), ("gitrepositories", "apps", "missing"));
        body["resources"]!.AsArray().Add(new JsonObject { ["type"] = 7, ["namespace"] = "apps" });

        var response = await Fixture.SendAsAsync(operatorUser, new BatchSuspendFluxResources.Command(body, null, null));

        response.Results.Select(result => (result.Success, result.Message)).ShouldBe(
        [
            (true, "Suspended podinfo"),
            (false, "Permission denied"),
            (false, "Invalid resource type: widgets"),
            (false, "gitrepositories.source.toolkit.fluxcd.io \"missing\" not found"),
            (false, "Each resource needs type, namespace and name as non-empty strings"),
        ]);
        response.Results[4].Resource.Type.ShouldBe("unknown");
        response.Summary.ShouldBe(new FluxBatchSummary(5, 1, 4));
        Api.RequestsTo("PATCH", "/apis").Select(request => (request.Path, request.Body)).ShouldBe(
        [
            ("/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo", """[{"op":"add","path":"/spec/suspend","value":true}]"""),
            ("/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories/missing", """[{"op":"add","path":"/spec/suspend","value":true}]"""),
        ]);
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo")!["spec"]!["suspend"]!.GetValue<bool>().ShouldBeTrue();
        Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!["spec"]!["suspend"].ShouldBeNull();
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId, audit.ActorId).ShouldBe(("flux.batch.suspend", "HelmRelease", "apps/podinfo", (Guid?)operatorUser.Id));
    }

    [Fact]
    public async Task Batch_resume_sends_suspend_false_per_item()
    {
        await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, AppsWriter);

        var response = await Fixture.SendAsAsync(operatorUser, new BatchResumeFluxResources.Command(Body(("helmreleases", "apps", "redis"), ("helmreleases", "cert-manager", "cert-manager")), null, null));

        response.Results.Select(result => result.Message).ShouldBe(["Resumed redis", "Permission denied"]);
        response.Summary.ShouldBe(new FluxBatchSummary(2, 1, 1));
        var patch = Api.RequestsTo("PATCH", "/apis").Single();
        (patch.Path, patch.ContentType, patch.Body).ShouldBe(("/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/redis", "application/json-patch+json", """[{"op":"add","path":"/spec/suspend","value":false}]"""));
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "redis")!["spec"]!["suspend"]!.GetValue<bool>().ShouldBeFalse();
        (await AuditAsync()).Select(row => (row.Action, row.ResourceId)).ShouldBe([("flux.batch.resume", "apps/redis")]);
    }

    [Fact]
    public async Task Batch_reconcile_patches_each_item_and_records_a_manual_history_entry_per_success()
    {
        var cluster = await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, WriteAll);

        var response = await Fixture.SendAsAsync(
            operatorUser,
            new BatchReconcileFluxResources.Command(Body(("gitrepositories", "apps", "podinfo"), ("kustomizations", "flux-system", "apps"), ("kustomizations", "flux-system", "gone")), null, null));

        response.Results.Select(result => (result.Success, result.Message)).ShouldBe(
        [
            (true, "Reconciliation triggered for podinfo"),
            (true, "Reconciliation triggered for apps"),
            (false, "kustomizations.kustomize.toolkit.fluxcd.io \"gone\" not found"),
        ]);
        Api.RequestsTo("PATCH", "/apis").ShouldAllBe(request => request.ContentType == "application/merge-patch+json" && request.Body.Contains("reconcile.fluxcd.io/requestedAt"));
        Api.Store.Get("source.toolkit.fluxcd.io/v1", "GitRepository", "apps", "podinfo")!["metadata"]!["annotations"]!["reconcile.fluxcd.io/requestedAt"].ShouldNotBeNull();
        (await HistoryAsync()).Select(entry => (entry.ClusterId, entry.ResourceType, entry.Namespace, entry.Name, entry.TriggerType, entry.TriggeredByUser)).ShouldBe(
        [
            (cluster, "GitRepository", "apps", "podinfo", "manual", (Guid?)operatorUser.Id),
            (cluster, "Kustomization", "flux-system", "apps", "manual", (Guid?)operatorUser.Id),
        ]);
        (await AuditAsync()).Select(row => (row.Action, row.ResourceId)).ShouldBe([("flux.batch.reconcile", "apps/podinfo"), ("flux.batch.reconcile", "flux-system/apps")]);
    }

    [Fact]
    public async Task Batch_delete_needs_the_admin_action_per_item()
    {
        await RegisterAsync("prod");
        var writer = await FluxUserAsync(BaseRole.Operator, WriteAll);
        var deleter = await FluxUserAsync(BaseRole.Operator, AdminAll);
        var body = Body(("helmreleases", "apps", "redis"));
        body["cluster"] = "prod";

        var refused = await Fixture.SendAsAsync(writer, new BatchDeleteFluxResources.Command(body, null, null));
        Api.RequestsTo("DELETE", "/apis").ShouldBeEmpty();
        var deleted = await Fixture.SendAsAsync(deleter, new BatchDeleteFluxResources.Command(body, null, null));

        refused.Results.Single().Message.ShouldBe("Permission denied");
        refused.Summary.ShouldBe(new FluxBatchSummary(1, 0, 1));
        deleted.Results.Single().Message.ShouldBe("Deleted redis");
        deleted.Summary.ShouldBe(new FluxBatchSummary(1, 1, 0));
        Api.RequestsTo("DELETE", "/apis").Select(request => request.Path).ShouldBe(["/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/redis"]);
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "redis").ShouldBeNull();
        var rows = await AuditAsync();
        rows.Where(row => row.Action == "flux.batch.delete").Select(row => (row.ResourceId, row.ActorId)).ShouldBe([("apps/redis", (Guid?)deleter.Id)]);
        JsonNode.Parse(rows.Single(row => row.Action == "flux.batch.delete").Metadata)!["cluster"]!.GetValue<string>().ShouldBe("prod");
    }

    [Fact]
    public async Task Batches_validate_the_resources_array_and_its_size()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var tooMany = Body([.. Enumerable.Range(0, 101).Select(index => ("gitrepositories", "apps", $"r{index}"))]);
        var notAnArray = new JsonObject { ["resources"] = "all" };

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new BatchResumeFluxResources.Command(tooMany, null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("Batch size exceeded: maximum 100 resources allowed per request");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new BatchSuspendFluxResources.Command(notAnArray, null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("Missing or invalid resources array in request body");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new BatchReconcileFluxResources.Command([], null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new BatchDeleteFluxResources.Command(tooMany, null, null)));

        Api.Requests.ShouldBeEmpty();
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_batch_on_an_unknown_cluster_is_not_found_and_an_empty_batch_does_nothing()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new BatchDeleteFluxResources.Command(Body(("helmreleases", "apps", "redis")), "nowhere", null)));
        var empty = await Fixture.SendAsAsync(admin, new BatchReconcileFluxResources.Command(Body(), null, null));

        empty.Results.ShouldBeEmpty();
        empty.Summary.ShouldBe(new FluxBatchSummary(0, 0, 0));
        Api.Requests.ShouldBeEmpty();
        (await HistoryAsync()).ShouldBeEmpty();
    }
}
