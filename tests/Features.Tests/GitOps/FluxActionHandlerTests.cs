using System.Globalization;
using System.Text.Json.Nodes;
using Capstan.Features.GitOps;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;

namespace Capstan.Features.Tests.GitOps;

/// <summary>Reconcile, suspend, resume and rollback of one Flux object: the exact patch the fake API server receives,
/// the object it holds afterwards, the history entry and audit row written, and the refusals.</summary>
public sealed class FluxActionHandlerTests(GitOpsHandlerFixture fixture, FakeKubernetesFixture fake) : FluxSliceHandlerTest(fixture, fake)
{
    private const string AppsKustomization = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps";
    private const string PodinfoRelease = "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo";
    private const string Revision = "main@sha1:4d7e2b9c3f1a8e6d5c4b3a29180716253443526f";

    [Fact]
    public async Task Reconcile_sends_the_requested_at_merge_patch_and_records_a_manual_history_entry()
    {
        var cluster = await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, """[{"resources":["kustomizations"],"namespaces":["flux-system"],"actions":["reconcile"],"clusters":["prod"]}]""");
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        var response = await Fixture.SendAsAsync(operatorUser, new ReconcileFluxResource.Command("kustomizations", "flux-system", "apps", null, null));

        response.Success.ShouldBeTrue();
        response.Message.ShouldBe("Reconciliation triggered for apps");
        DateTimeOffset.Parse(response.RequestedAt, CultureInfo.InvariantCulture).ShouldBeGreaterThan(before);
        var patch = Api.RequestsTo("PATCH", AppsKustomization).Single();
        patch.ContentType.ShouldBe("application/merge-patch+json");
        patch.Body.ShouldBe("{\"metadata\":{\"annotations\":{\"reconcile.fluxcd.io/requestedAt\":\"" + response.RequestedAt + "\"}}}");
        Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!["metadata"]!["annotations"]!["reconcile.fluxcd.io/requestedAt"]!
            .GetValue<string>().ShouldBe(response.RequestedAt);
        var entry = (await HistoryAsync()).Single();
        (entry.ClusterId, entry.ResourceType, entry.Namespace, entry.Name, entry.Revision, entry.Status, entry.TriggerType, entry.TriggeredByUser)
            .ShouldBe((cluster, "Kustomization", "flux-system", "apps", Revision, "unknown", "manual", (Guid?)operatorUser.Id));
        JsonNode.Parse(entry.SpecSnapshot!)!["path"]!.GetValue<string>().ShouldBe(
            Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!["spec"]!["path"]!.GetValue<string>());
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId, audit.ResourceName, audit.ActorId).ShouldBe(("flux.reconcile", "Kustomization", "flux-system/apps", "apps", (Guid?)operatorUser.Id));
    }

    [Fact]
    public async Task Reconcile_of_a_missing_object_writes_no_history_and_a_reader_is_refused()
    {
        await RegisterAsync();
        var reader = await FluxUserAsync(BaseRole.Operator, ReadAll);
        var writer = await FluxUserAsync(BaseRole.Operator, WriteAll);

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(reader, new ReconcileFluxResource.Command("kustomizations", "flux-system", "apps", null, null)));
        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(writer, new ReconcileFluxResource.Command("kustomizations", "flux-system", "missing", null, null))))
            .StatusCode.ShouldBe(404);

        Api.RequestsTo("PATCH", "/apis").Select(request => request.Path).ShouldBe(["/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/missing"]);
        (await HistoryAsync()).ShouldBeEmpty();
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_policy_bound_to_another_cluster_grants_nothing_here()
    {
        await RegisterAsync("prod");
        var stagingOnly = await FluxUserAsync(BaseRole.Operator, WriteAll, bindingCluster: "staging");
        var higherPolicy = await FluxUserAsync(BaseRole.Developer, WriteAll, policyRole: "operator");

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(stagingOnly, new ReconcileFluxResource.Command("kustomizations", "flux-system", "apps", null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(higherPolicy, new SuspendFluxResource.Command("kustomizations", "flux-system", "apps", null, null)));
        Api.RequestsTo("PATCH", "/apis").ShouldBeEmpty();
    }

    [Theory]
    [InlineData("widgets", "flux-system", "apps")]
    [InlineData("kustomizations", "flux_system", "apps")]
    [InlineData("kustomizations", "flux-system", "Apps")]
    public async Task Reconcile_suspend_and_resume_validate_their_route(string type, string ns, string name)
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new ReconcileFluxResource.Command(type, ns, name, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new SuspendFluxResource.Command(type, ns, name, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new ResumeFluxResource.Command(type, ns, name, null, null)));

        Api.Requests.ShouldBeEmpty();
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Suspend_sends_the_json_patch_and_the_object_is_suspended()
    {
        await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, """[{"resources":["HelmRelease"],"namespaces":["apps"],"actions":["suspend"],"clusters":[]}]""");

        var response = await Fixture.SendAsAsync(operatorUser, new SuspendFluxResource.Command("helmreleases", "apps", "podinfo", null, null));

        response.ShouldBe(new SuspendFluxResource.Response(true, "Suspended podinfo"));
        var patch = Api.RequestsTo("PATCH", PodinfoRelease).Single();
        patch.ContentType.ShouldBe("application/json-patch+json");
        patch.Body.ShouldBe("""[{"op":"add","path":"/spec/suspend","value":true}]""");
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo")!["spec"]!["suspend"]!.GetValue<bool>().ShouldBeTrue();
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId).ShouldBe(("flux.suspend", "HelmRelease", "apps/podinfo"));
        (await HistoryAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Suspend_needs_write_in_the_objects_namespace()
    {
        await RegisterAsync();
        var otherNamespace = await FluxUserAsync(BaseRole.Operator, """[{"resources":[],"namespaces":["flux-system"],"actions":["write"],"clusters":[]}]""");

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(otherNamespace, new SuspendFluxResource.Command("helmreleases", "apps", "podinfo", null, null)));

        Api.RequestsTo("PATCH", "/apis").ShouldBeEmpty();
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo")!["spec"]!["suspend"].ShouldBeNull();
    }

    [Fact]
    public async Task Resume_sends_suspend_false_and_the_object_runs_again()
    {
        await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, WriteAll);

        var response = await Fixture.SendAsAsync(operatorUser, new ResumeFluxResource.Command("HelmRelease", "apps", "redis", null, null));

        response.ShouldBe(new ResumeFluxResource.Response(true, "Resumed redis"));
        var patch = Api.RequestsTo("PATCH", "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/redis").Single();
        patch.ContentType.ShouldBe("application/json-patch+json");
        patch.Body.ShouldBe("""[{"op":"add","path":"/spec/suspend","value":false}]""");
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "redis")!["spec"]!["suspend"]!.GetValue<bool>().ShouldBeFalse();
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceId, audit.ActorId).ShouldBe(("flux.resume", "apps/redis", (Guid?)operatorUser.Id));
    }

    [Fact]
    public async Task Resume_of_a_missing_object_is_a_404_and_a_reader_is_refused()
    {
        await RegisterAsync();
        var reader = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(reader, new ResumeFluxResource.Command("helmreleases", "apps", "redis", null, null)));
        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(admin, new ResumeFluxResource.Command("helmreleases", "apps", "missing", null, null))))
            .StatusCode.ShouldBe(404);

        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "redis")!["spec"]!["suspend"]!.GetValue<bool>().ShouldBeTrue();
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Rollback_dry_run_returns_the_patch_and_sends_nothing()
    {
        var cluster = await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, WriteAll);
        var historyId = await HistoryEntryAsync(cluster, "6.6.0", """{"chart":{"spec":{"chart":"podinfo","version":"6.6.0"}},"interval":"10m0s"}""");

        var response = await Fixture.SendAsAsync(operatorUser, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", null, historyId.ToString(), true, null, null));

        response.Success.ShouldBeTrue();
        response.DryRun.ShouldBeTrue();
        response.Message.ShouldBe("Dry run: rollback to 6.6.0 would send this patch");
        response.HistoryEntry.ShouldBe(new RollbackFluxResource.HistoryEntryRef(historyId, "6.6.0"));
        response.Patch!["spec"]!["chart"]!["spec"]!["version"]!.GetValue<string>().ShouldBe("6.6.0");
        response.Patch["spec"]!.AsObject().ContainsKey("values").ShouldBeTrue();
        response.Patch["spec"]!["values"].ShouldBeNull("added since the snapshot, so removed");
        response.Patch["metadata"]!["annotations"]!["gyre.io/rolledBackFrom"]!.GetValue<string>().ShouldBe("6.7.1");
        Api.RequestsTo("PATCH", "/apis").ShouldBeEmpty();
        (await HistoryAsync()).Count.ShouldBe(1);
    }

    [Fact]
    public async Task Rollback_by_revision_takes_the_newest_entry_with_a_snapshot_patches_and_records_it()
    {
        var cluster = await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, WriteAll);
        await HistoryEntryAsync(cluster, "6.6.0", """{"chart":{"spec":{"chart":"podinfo","version":"6.6.0"}},"interval":"30m"}""", age: "3 days");
        var newest = await HistoryEntryAsync(cluster, "6.6.0", """{"chart":{"spec":{"chart":"podinfo","version":"6.6.0"}},"interval":"10m0s"}""", age: "2 days");
        await HistoryEntryAsync(cluster, "6.6.0", null, age: "1 day");
        await HistoryEntryAsync(cluster, "6.6.0", """{"interval":"99m"}""", ns: "flux-system", age: "1 hour");

        var response = await Fixture.SendAsAsync(operatorUser, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", "6.6.0", null, null, null, null));

        response.ShouldBe(new RollbackFluxResource.Response(true, false, "Successfully initiated rollback to 6.6.0", new RollbackFluxResource.HistoryEntryRef(newest, "6.6.0"), null));
        var sent = Api.RequestsTo("PATCH", PodinfoRelease).Single();
        sent.ContentType.ShouldBe("application/merge-patch+json");
        sent.Json!["spec"]!["interval"]!.GetValue<string>().ShouldBe("10m0s");
        var live = Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo")!;
        live["spec"]!["chart"]!["spec"]!["version"]!.GetValue<string>().ShouldBe("6.6.0");
        live["spec"]!["values"].ShouldBeNull();
        live["metadata"]!["annotations"]!["gyre.io/rolledBackFrom"]!.GetValue<string>().ShouldBe("6.7.1");
        var recorded = (await HistoryAsync()).Single(entry => entry.TriggerType == "rollback");
        (recorded.ClusterId, recorded.ResourceType, recorded.Revision, recorded.PreviousRevision, recorded.Status, recorded.TriggeredByUser)
            .ShouldBe((cluster, "HelmRelease", "6.6.0", "6.7.1", "unknown", (Guid?)operatorUser.Id));
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId).ShouldBe(("flux.rollback", "HelmRelease", "apps/podinfo"));
        var metadata = JsonNode.Parse(audit.Metadata)!;
        metadata["history_id"]!.GetValue<string>().ShouldBe(newest.ToString());
        metadata["cluster"]!.GetValue<string>().ShouldBe("prod");
    }

    [Fact]
    public async Task Rollback_without_an_entry_is_a_404_and_without_a_snapshot_a_400()
    {
        var cluster = await RegisterAsync();
        var other = await RegisterAsync("staging");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var withoutSnapshot = await HistoryEntryAsync(cluster, "6.0.0", null);
        var otherClusters = await HistoryEntryAsync(other, "5.0.0", """{"interval":"1m"}""");

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", "1.0.0", null, null, null, null))))
            .Message.ShouldBe("No history entry of revision '1.0.0' for HelmRelease apps/podinfo");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", null, otherClusters.ToString(), null, null, null))))
            .Message.ShouldBe($"History entry {otherClusters} not found for HelmRelease apps/podinfo");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", null, withoutSnapshot.ToString(), null, null, null))))
            .Message.ShouldBe("That history entry has no spec snapshot to roll back to");
        Api.RequestsTo("PATCH", "/apis").ShouldBeEmpty();
        (await HistoryAsync()).Count.ShouldBe(2);
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Theory]
    [InlineData(null, null)]
    [InlineData(null, "not-a-guid")]
    [InlineData("", null)]
    public async Task Rollback_validates_revision_and_history_id(string? revision, string? historyId)
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", revision, historyId, null, null, null)));

        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Rollback_validates_lengths_and_needs_write()
    {
        var cluster = await RegisterAsync();
        var reader = await FluxUserAsync(BaseRole.Operator, ReadAll);
        await HistoryEntryAsync(cluster, "6.6.0", """{"interval":"1m"}""");

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(reader, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", new string('x', 501), null, null, null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(reader, new RollbackFluxResource.Command("helmreleases", "apps", "podinfo", "6.6.0", null, null, null, null)));
        Api.Requests.ShouldBeEmpty();
    }
}
