using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>Reconcile, suspend, resume, rollback and the batch routes: the exact patches they send.</summary>
public sealed class FluxActionRoutesTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    [Fact]
    public async Task Reconcile_sends_the_requested_at_merge_patch_and_records_a_manual_entry()
    {
        var cluster = await RegisterClusterAsync();
        var (editor, user) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);
        var before = DateTimeOffset.UtcNow.AddSeconds(-1);

        var body = await (await editor.PostAsync("/api/v1/flux/kustomizations/flux-system/apps/reconcile", null)).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["success", "message", "requestedAt"]);
        body.GetProperty("message").GetString().ShouldBe("Reconciliation triggered for apps");
        var patch = Api.RequestsTo("PATCH", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps").Single();
        patch.ContentType.ShouldBe("application/merge-patch+json");
        var requestedAt = JsonNode.Parse(patch.Body)!["metadata"]!["annotations"]!["reconcile.fluxcd.io/requestedAt"]!.GetValue<string>();
        patch.Body.ShouldBe("{\"metadata\":{\"annotations\":{\"reconcile.fluxcd.io/requestedAt\":\"" + requestedAt + "\"}}}");
        requestedAt.ShouldMatch(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$");
        DateTimeOffset.Parse(requestedAt, CultureInfo.InvariantCulture).ShouldBeGreaterThan(before);
        var history = await Fixture.QueryAsync<(Guid ClusterId, string TriggerType, Guid? TriggeredByUser, string Status, string? Revision)>(
            "SELECT cluster_id, trigger_type, triggered_by_user, status, revision FROM gitops.reconciliation_history");
        history.Single().ShouldBe((cluster, "manual", (Guid?)user.Id, "unknown", "main@sha1:4d7e2b9c3f1a8e6d5c4b3a29180716253443526f"));
    }

    [Theory]
    [InlineData("suspend", true, "Suspended podinfo")]
    [InlineData("resume", false, "Resumed podinfo")]
    public async Task Suspend_and_resume_send_the_json_patch_of_spec_suspend(string action, bool value, string message)
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);

        var body = await (await editor.PostAsync($"/api/v1/flux/helmreleases/apps/podinfo/{action}", null)).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["success", "message"]);
        body.GetProperty("message").GetString().ShouldBe(message);
        var patch = Api.RequestsTo("PATCH", "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo").Single();
        patch.ContentType.ShouldBe("application/json-patch+json");
        patch.Body.ShouldBe($$"""[{"op":"add","path":"/spec/suspend","value":{{(value ? "true" : "false")}}}]""");
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo")!["spec"]!["suspend"]!.GetValue<bool>().ShouldBe(value);
    }

    [Theory]
    [InlineData("reconcile")]
    [InlineData("suspend")]
    [InlineData("resume")]
    public async Task Actions_need_write_on_the_object_and_name_missing_ones(string action)
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        var (readOnly, _) = await FluxClientAsync(BaseRole.Operator, EditorRead);
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorWrite);

        await (await Client.PostAsync($"/api/v1/flux/kustomizations/flux-system/apps/{action}", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await viewer.PostAsync($"/api/v1/flux/kustomizations/flux-system/apps/{action}", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await readOnly.PostAsync($"/api/v1/flux/kustomizations/flux-system/apps/{action}", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await editor.PostAsync($"/api/v1/flux/kustomizations/flux-system/missing/{action}", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await editor.PostAsync($"/api/v1/flux/widgets/flux-system/apps/{action}", null)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        Api.RequestsTo("PATCH", "/apis").ShouldAllBe(request => request.Path.EndsWith("/missing", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Rollback_dry_run_shows_the_patch_and_rollback_sends_it()
    {
        var cluster = await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);
        var historyId = await SnapshotAsync(cluster, "6.6.0", """{"chart":{"spec":{"chart":"podinfo","version":"6.6.0"}},"interval":"10m0s"}""");

        var dryRun = await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { historyId, dryRun = true })).ShouldBeJsonAsync();
        Api.RequestsTo("PATCH", "/apis").ShouldBeEmpty();
        var done = await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { revision = "6.6.0" })).ShouldBeJsonAsync();

        dryRun.GetProperty("dryRun").GetBoolean().ShouldBeTrue();
        dryRun.GetProperty("historyEntry").GetProperty("id").GetGuid().ShouldBe(historyId);
        var patch = dryRun.GetProperty("patch");
        patch.GetProperty("spec").GetProperty("chart").GetProperty("spec").GetProperty("version").GetString().ShouldBe("6.6.0");
        patch.GetProperty("spec").GetProperty("values").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null, "added since the snapshot, so removed");
        patch.GetProperty("spec").GetProperty("releaseName").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        patch.GetProperty("metadata").GetProperty("annotations").GetProperty("gyre.io/rolledBackFrom").GetString().ShouldBe("6.7.1");
        done.GetProperty("message").GetString().ShouldBe("Successfully initiated rollback to 6.6.0");
        var sent = Api.RequestsTo("PATCH", "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo").Single();
        sent.ContentType.ShouldBe("application/merge-patch+json");
        var live = Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo")!;
        live["spec"]!["chart"]!["spec"]!["version"]!.GetValue<string>().ShouldBe("6.6.0");
        live["spec"]!["values"].ShouldBeNull();
        live["metadata"]!["annotations"]!["reconcile.fluxcd.io/requestedAt"].ShouldNotBeNull();
        (await Fixture.ScalarAsync<string>("SELECT trigger_type FROM gitops.reconciliation_history ORDER BY created_at DESC LIMIT 1")).ShouldBe("rollback");
    }

    [Fact]
    public async Task Rollback_without_an_entry_or_a_snapshot_is_404_or_400_not_500()
    {
        var cluster = await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);
        var withoutSnapshot = await SnapshotAsync(cluster, "6.0.0", null);

        await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { revision = "1.0.0" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { historyId = Guid.NewGuid() })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { historyId = withoutSnapshot })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("That history entry has no spec snapshot to roll back to");
        await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { historyId = "nope" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await editor.PostAsJsonAsync("/api/v1/flux/helmreleases/apps/podinfo/rollback", new { revision = new string('x', 501) })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        Api.RequestsTo("PATCH", "/apis").ShouldBeEmpty();
    }

    [Fact]
    public async Task Batch_acts_per_item_with_permission_checks_and_reports_each()
    {
        await RegisterClusterAsync();
        var appsWriter = await PolicyAsync("operator", """[{"resources":[],"namespaces":["apps"],"actions":["write"],"clusters":[]}]""");
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, appsWriter);

        var body = await (await editor.PostAsJsonAsync("/api/v1/flux/batch/suspend", new
        {
            resources = new object[]
            {
                new { type = "helmreleases", @namespace = "apps", name = "podinfo" },
                new { type = "Kustomization", @namespace = "flux-system", name = "apps" },
                new { type = "widgets", @namespace = "apps", name = "x" },
                new { type = "gitrepositories", @namespace = "apps", name = "missing" },
                new { type = 7, @namespace = "apps" },
            },
        })).ShouldBeJsonAsync();

        var results = body.GetProperty("results").EnumerateArray().ToList();
        results.Select(result => result.GetProperty("success").GetBoolean()).ShouldBe([true, false, false, false, false]);
        results[0].PropertyNames().ShouldBe(["resource", "success", "message"]);
        results[0].GetProperty("message").GetString().ShouldBe("Suspended podinfo");
        results[1].GetProperty("message").GetString().ShouldBe("Permission denied");
        results[2].GetProperty("message").GetString()!.ShouldStartWith("Invalid resource type");
        results[3].GetProperty("message").GetString().ShouldBe("gitrepositories.source.toolkit.fluxcd.io \"missing\" not found");
        results[4].GetProperty("resource").GetProperty("type").GetString().ShouldBe("unknown");
        body.GetProperty("summary").PropertyNames().ShouldBe(["total", "successful", "failed"]);
        body.GetProperty("summary").GetProperty("successful").GetInt32().ShouldBe(1);
        body.GetProperty("summary").GetProperty("failed").GetInt32().ShouldBe(4);
        Api.RequestsTo("PATCH", "/apis").Select(request => request.Path).ShouldBe(
            ["/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/podinfo", "/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories/missing"]);
    }

    [Fact]
    public async Task Batch_reconcile_resume_and_delete_use_the_single_item_calls()
    {
        await RegisterClusterAsync();
        var deleter = await PolicyAsync("operator", """[{"resources":[],"namespaces":[],"actions":["admin"],"clusters":[]}]""");
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, deleter);
        var items = new { resources = new[] { new { type = "gitrepositories", @namespace = "apps", name = "podinfo" } } };

        (await (await editor.PostAsJsonAsync("/api/v1/flux/batch/reconcile", items)).ShouldBeJsonAsync()).GetProperty("results")[0].GetProperty("message").GetString().ShouldBe("Reconciliation triggered for podinfo");
        (await (await editor.PostAsJsonAsync("/api/v1/flux/batch/resume", items)).ShouldBeJsonAsync()).GetProperty("results")[0].GetProperty("message").GetString().ShouldBe("Resumed podinfo");
        (await (await editor.PostAsJsonAsync("/api/v1/flux/batch/delete", items)).ShouldBeJsonAsync()).GetProperty("results")[0].GetProperty("message").GetString().ShouldBe("Deleted podinfo");

        Api.Requests.Where(request => request.Path.StartsWith("/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories/podinfo", StringComparison.Ordinal))
            .Select(request => (request.Method, request.ContentType)).ShouldBe(
            [("PATCH", "application/merge-patch+json"), ("PATCH", "application/json-patch+json"), ("DELETE", null)]);
        (await Fixture.ScalarAsync<string>("SELECT trigger_type FROM gitops.reconciliation_history")).ShouldBe("manual");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action LIKE 'flux.batch.%'")).ShouldBe(3);
    }

    [Theory]
    [InlineData("""{}""", "Missing or invalid resources array in request body")]
    [InlineData("""{"resources":"all"}""", "Missing or invalid resources array in request body")]
    public async Task Batch_refuses_a_body_without_resources(string json, string message)
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorWrite);

        (await (await editor.PostAsync("/api/v1/flux/batch/reconcile", new StringContent(json, Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe(message);
    }

    [Fact]
    public async Task Batch_refuses_more_than_100_items_and_needs_the_route_permission()
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorWrite);
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        var tooMany = new { resources = Enumerable.Range(0, 101).Select(index => new { type = "gitrepositories", @namespace = "apps", name = $"r{index}" }).ToArray() };

        (await (await editor.PostAsJsonAsync("/api/v1/flux/batch/resume", tooMany)).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("Batch size exceeded: maximum 100 resources allowed per request");
        await (await viewer.PostAsJsonAsync("/api/v1/flux/batch/resume", new { resources = Array.Empty<object>() })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await editor.PostAsJsonAsync("/api/v1/flux/batch/delete", new { resources = Array.Empty<object>() })).StatusCode.ShouldBe(HttpStatusCode.OK);
        await (await Client.PostAsJsonAsync("/api/v1/flux/batch/delete", new { resources = Array.Empty<object>() })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    private async Task<Guid> SnapshotAsync(Guid cluster, string revision, string? spec)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO gitops.reconciliation_history (id, cluster_id, resource_type, namespace, name, revision, status, reconcile_completed_at, spec_snapshot)
            VALUES (@Id, @Cluster, 'HelmRelease', 'apps', 'podinfo', @Revision, 'success', now() - interval '1 day', CAST(@Spec AS jsonb))
            """,
            new { Id = id, Cluster = cluster, Revision = revision, Spec = spec });
        return id;
    }
}
