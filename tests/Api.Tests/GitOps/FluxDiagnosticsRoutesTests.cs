using System.Net;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>Events, history, logs, overview, flux events, health and version.</summary>
public sealed class FluxDiagnosticsRoutesTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    [Fact]
    public async Task Events_of_an_object_come_from_a_field_selected_list_newest_first()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var body = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/events")).ShouldBeJsonAsync();

        var events = body.GetProperty("events").EnumerateArray().ToList();
        events.Select(e => e.GetProperty("reason").GetString()).ShouldBe(["ReconciliationSucceeded", "Progressing"]);
        events[0].PropertyNames().ShouldBe(["name", "namespace", "type", "reason", "message", "count", "firstTimestamp", "lastTimestamp", "source", "involvedObject"]);
        events[0].GetProperty("count").GetInt32().ShouldBe(3);
        events[0].GetProperty("source").GetString().ShouldBe("kustomize-controller");
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/api/v1/namespaces/flux-system/events?fieldSelector=involvedObject.name%3Dapps%2CinvolvedObject.kind%3DKustomization");
    }

    [Fact]
    public async Task History_filters_by_status_and_time_and_pins_gyres_fields()
    {
        var cluster = await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        await Fixture.ExecuteAsync(
            """
            INSERT INTO gitops.reconciliation_history (id, cluster_id, resource_type, namespace, name, revision, status, reconcile_completed_at, spec_snapshot) VALUES
                (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'apps', 'r1', 'success', now() - interval '3 days', '{"interval":"1m"}'),
                (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'apps', 'r2', 'failure', now() - interval '2 days', NULL),
                (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'apps', 'r3', 'success', now() - interval '1 day', NULL),
                (gen_random_uuid(), @Cluster, 'Kustomization', 'flux-system', 'other', 'x', 'success', now(), NULL)
            """,
            new { Cluster = cluster });

        var all = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/history")).ShouldBeJsonAsync();
        var successes = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/history?status=success&limit=1")).ShouldBeJsonAsync();
        var recent = await (await viewer.GetAsync($"/api/v1/flux/kustomizations/flux-system/apps/history?since={Uri.EscapeDataString(DateTime.UtcNow.AddDays(-2.5).ToString("O"))}")).ShouldBeJsonAsync();

        all.GetProperty("timeline").EnumerateArray().Select(entry => entry.GetProperty("revision").GetString()).ShouldBe(["r3", "r2", "r1"]);
        all.GetProperty("total").GetInt32().ShouldBe(3);
        all.GetProperty("timeline")[0].PropertyNames().ShouldBe(
        [
            "id", "resourceType", "namespace", "name", "clusterId", "revision", "previousRevision", "status", "readyStatus", "readyReason", "readyMessage",
            "reconcileStartedAt", "reconcileCompletedAt", "durationMs", "specSnapshot", "metadataSnapshot", "triggerType", "triggeredByUser", "errorMessage",
            "stalledReason", "createdAt",
        ]);
        all.GetProperty("timeline")[2].GetProperty("specSnapshot").GetString().ShouldBe("""{"interval": "1m"}""");
        successes.GetProperty("timeline").EnumerateArray().Single().GetProperty("revision").GetString().ShouldBe("r3");
        recent.GetProperty("total").GetInt32().ShouldBe(2);
        Api.Requests.ShouldBeEmpty("history is read from the database");
    }

    [Theory]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=1001", "limit")]
    [InlineData("status=fine", "status")]
    [InlineData("since=yesterday", "since")]
    public async Task History_validates_its_filters(string query, string field)
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        (await (await viewer.GetAsync($"/api/v1/flux/kustomizations/flux-system/apps/history?{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Logs_keep_the_controller_lines_naming_the_object()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        Api.Store.SetPodLog("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", """
            {"level":"info","ts":"2024-11-20T09:14:22.101Z","msg":"server-side apply completed","controller":"kustomization","Kustomization":{"name":"apps","namespace":"flux-system"},"namespace":"flux-system","name":"apps"}
            {"level":"info","ts":"2024-11-20T09:14:23.000Z","msg":"server-side apply completed","controller":"kustomization","namespace":"flux-system","name":"infrastructure"}
            {"level":"error","ts":"2024-11-20T09:14:24.000Z","msg":"Reconciliation failed","controller":"kustomization","namespace":"flux-system","name":"apps"}
            """);
        Api.Store.Put(JsonNode.Parse("""{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"nothing-logged","namespace":"flux-system"}}""")!.AsObject());

        var body = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/logs")).ShouldBeJsonAsync();
        var none = await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/nothing-logged/logs")).ShouldBeJsonAsync();

        body.GetProperty("lines").GetInt32().ShouldBe(2);
        body.GetProperty("pod").GetString().ShouldBe("kustomize-controller-7b8c9d6f4-q8w2e");
        body.GetProperty("logs").GetString()!.ShouldContain("Reconciliation failed");
        body.GetProperty("logs").GetString()!.ShouldNotContain("infrastructure");
        none.GetProperty("logs").GetString().ShouldBe("No controller log lines matched kustomizations flux-system/nothing-logged.");
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/api/v1/namespaces/flux-system/pods?labelSelector=app%3Dkustomize-controller&limit=500");
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/api/v1/namespaces/flux-system/pods/kustomize-controller-7b8c9d6f4-q8w2e/log?tailLines=1000");
    }

    [Fact]
    public async Task Logs_fall_back_to_the_name_label_and_need_a_running_pod()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        Api.Store.SetPodLog("flux-system", "helm-controller-84d6c7f5b8-m4n5p", "{\"msg\":\"x\",\"namespace\":\"apps\",\"name\":\"podinfo\"}");

        (await (await viewer.GetAsync("/api/v1/flux/helmreleases/apps/podinfo/logs")).ShouldBeJsonAsync()).GetProperty("pod").GetString().ShouldBe("helm-controller-84d6c7f5b8-m4n5p");
        (await (await viewer.GetAsync("/api/v1/flux/alerts/flux-system/on-call/logs")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString().ShouldBe("No running notification-controller pod in namespace flux-system");
    }

    [Fact]
    public async Task Overview_counts_health_per_kind()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var body = await (await viewer.GetAsync("/api/v1/flux/overview")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["timestamp", "partialFailure", "results", "cluster"]);
        body.GetProperty("partialFailure").GetBoolean().ShouldBeFalse();
        var byKind = body.GetProperty("results").EnumerateArray().ToDictionary(result => result.GetProperty("type").GetString()!);
        byKind.Count.ShouldBe(13);
        byKind["HelmRelease"].GetProperty("total").GetInt32().ShouldBe(3);
        byKind["HelmRelease"].GetProperty("healthy").GetInt32().ShouldBe(1);
        byKind["HelmRelease"].GetProperty("suspended").GetInt32().ShouldBe(1);
        byKind["HelmRelease"].GetProperty("progressing").GetInt32().ShouldBe(1);
        byKind["Kustomization"].GetProperty("failed").GetInt32().ShouldBe(1);
        byKind["Bucket"].GetProperty("failed").GetInt32().ShouldBe(1);
        byKind["Alert"].GetProperty("unknown").GetInt32().ShouldBe(1);
    }

    [Fact]
    public async Task Overview_reports_a_partial_failure_when_a_kind_cannot_be_listed()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        Api.FailNext("GET", "/apis/image.toolkit.fluxcd.io/v1/imagepolicies", 404, """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"the server could not find the requested resource","reason":"NotFound","code":404}""");

        var body = await (await viewer.GetAsync("/api/v1/flux/overview")).ShouldBeJsonAsync();

        body.GetProperty("partialFailure").GetBoolean().ShouldBeTrue();
        body.GetProperty("results").GetArrayLength().ShouldBe(12);
    }

    [Fact]
    public async Task Cluster_wide_diagnostics_need_a_cluster_wide_policy()
    {
        await RegisterClusterAsync();
        var scoped = await PolicyAsync("viewer", """[{"resources":[],"namespaces":["apps"],"actions":["read"],"clusters":[]}]""");
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, scoped);

        foreach (var url in new[] { "/api/v1/flux/overview", "/api/v1/flux/events", "/api/v1/flux/version", "/api/v1/events" })
        {
            await (await viewer.GetAsync(url)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
            await (await Client.GetAsync(url)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        }

        (await viewer.GetAsync("/api/v1/events?namespace=apps")).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Flux_events_keep_the_controllers_events_newest_first()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var body = await (await viewer.GetAsync("/api/v1/flux/events?limit=2")).ShouldBeJsonAsync();

        body.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("reason").GetString()).ShouldBe(["ReconciliationSucceeded", "BuildFailed"]);
        (await (await viewer.GetAsync("/api/v1/flux/events")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(4);
        await (await viewer.GetAsync("/api/v1/flux/events?limit=0")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Seed_001s_event_list_filters_by_namespace()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var body = await (await viewer.GetAsync("/api/v1/events?namespace=apps&limit=50")).ShouldBeJsonAsync();
        var legacy = await (await viewer.GetAsync("/api/events?namespace=apps")).ShouldBeJsonAsync();

        body.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("involvedObject").GetProperty("kind").GetString()).ShouldBe(["HelmRelease"]);
        legacy.GetProperty("total").GetInt32().ShouldBe(1);
        await (await viewer.GetAsync("/api/v1/events?limit=5000")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Health_is_public_but_says_more_to_signed_in_callers()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer);

        var anonymous = await (await Client.GetAsync("/api/v1/flux/health")).ShouldBeJsonAsync();
        var signedIn = await (await viewer.GetAsync("/api/v1/flux/health")).ShouldBeJsonAsync();

        anonymous.PropertyNames().ShouldBe(["status", "kubernetes"]);
        anonymous.GetProperty("status").GetString().ShouldBe("healthy");
        anonymous.GetProperty("kubernetes").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        var kubernetes = signedIn.GetProperty("kubernetes");
        kubernetes.GetProperty("connected").GetBoolean().ShouldBeTrue();
        kubernetes.GetProperty("clusterName").GetString().ShouldBe("prod");
        kubernetes.GetProperty("availableContexts").EnumerateArray().Select(name => name.GetString()).ShouldBe(["prod"]);
        kubernetes.GetProperty("connectionPool").GetProperty("clients").GetInt32().ShouldBeGreaterThanOrEqualTo(1);
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/api/v1/namespaces/default/pods?limit=1");
    }

    [Fact]
    public async Task Health_is_a_503_when_the_cluster_does_not_answer()
    {
        await Fixture.RegisterUnreachableClusterAsync("gone");
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer);

        (await (await viewer.GetAsync("/api/v1/flux/health")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString()!.ShouldStartWith("Unable to connect to Kubernetes cluster 'gone'");
        (await (await Client.GetAsync("/api/v1/flux/health")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("healthy");
    }

    [Fact]
    public async Task Version_comes_from_the_controllers_deployments()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var body = await (await viewer.GetAsync("/api/v1/flux/version")).ShouldBeJsonAsync();

        body.GetProperty("version").GetString().ShouldBe("v2.4.0");
        body.GetProperty("controllers").EnumerateArray().Select(controller => controller.GetProperty("name").GetString()).ShouldBe(["helm-controller", "kustomize-controller", "source-controller"]);
        body.GetProperty("controllers")[2].GetProperty("image").GetString().ShouldBe("ghcr.io/fluxcd/source-controller:v1.4.1");
    }

    [Fact]
    public async Task Version_falls_back_to_the_default()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        foreach (var name in new[] { "source-controller", "kustomize-controller", "helm-controller" })
        {
            Api.Store.Remove("apps/v1", "Deployment", "flux-system", name);
        }

        Api.Store.Update("v1", "Namespace", null, "flux-system", ns => ns["metadata"]!["labels"] = new System.Text.Json.Nodes.JsonObject());

        (await (await viewer.GetAsync("/api/v1/flux/version")).ShouldBeJsonAsync()).GetProperty("version").GetString().ShouldBe("v2.x.x");
    }
}
