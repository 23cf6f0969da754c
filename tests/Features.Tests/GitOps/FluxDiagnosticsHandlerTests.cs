using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using Capstan.Features.GitOps;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.GitOps;

/// <summary>The read-only Flux slices: health, overview, version, controller logs, events (cluster-wide, per object and
/// the JSON side of the live stream), history and the Kustomization diff; the requests they send and the RBAC they need.</summary>
public sealed class FluxDiagnosticsHandlerTests(GitOpsHandlerFixture fixture, FakeKubernetesFixture fake) : FluxSliceHandlerTest(fixture, fake)
{
    private const string AppsOnlyReader = """[{"resources":[],"namespaces":["apps"],"actions":["read"],"clusters":[]}]""";
    private const string ArtifactPath = "gitrepository/flux-system/flux-system/4d7e2b9c3f1a.tar.gz";

    [Fact]
    public async Task Health_without_a_caller_says_only_healthy()
    {
        await RegisterAsync();

        var response = await Fixture.SendAsync(new GetFluxHealth.Query(null, null));

        response.ShouldBe(new GetFluxHealth.Response("healthy", null));
        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Health_probes_the_selected_cluster_and_lists_the_visible_ones()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var prod = await RegisterAsync("prod");
        await Fixture.RegisterClusterAsync(Api, "mine", viewer.Id, scope: "user");
        await Fixture.RegisterClusterAsync(Api, "theirs", stranger.Id, scope: "user");

        var response = await Fixture.SendAsAsync(viewer, new GetFluxHealth.Query(null, null));

        response.Status.ShouldBe("healthy");
        var kubernetes = response.Kubernetes!;
        (kubernetes.Connected, kubernetes.ClusterId, kubernetes.ClusterName, kubernetes.ConfigStrategy, kubernetes.ConfigSource, kubernetes.CurrentContext, kubernetes.Message)
            .ShouldBe((true, (Guid?)prod, "prod", "registry", "kubeconfig", "fake", (string?)null));
        kubernetes.AvailableContexts.ShouldBe(["prod", "mine"]);
        Api.Requests.Single().PathAndQuery.ShouldBe("/api/v1/namespaces/default/pods?limit=1");
    }

    [Fact]
    public async Task Health_without_clusters_is_disconnected_and_an_unknown_or_dead_cluster_is_refused()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var none = await Fixture.SendAsAsync(viewer, new GetFluxHealth.Query(null, null));
        await Fixture.RegisterUnreachableClusterAsync("dead");

        none.Kubernetes!.Connected.ShouldBeFalse();
        none.Kubernetes.AvailableContexts.ShouldBeEmpty();
        none.Kubernetes.Message!.ShouldStartWith("No cluster selected");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetFluxHealth.Query("nowhere", null)))).Message.ShouldBe("Cluster 'nowhere' not found");
        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new GetFluxHealth.Query("dead", null))))
            .Message.ShouldStartWith("Unable to connect to Kubernetes cluster 'dead'");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetFluxHealth.Query(new string('c', 101), null)));
    }

    [Fact]
    public async Task Overview_counts_health_per_kind_and_reports_a_kind_it_cannot_list()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        Api.FailNext("GET", "/apis/image.toolkit.fluxcd.io/v1/imagepolicies", 404, """{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"not found","reason":"NotFound","code":404}""");

        var response = await Fixture.SendAsAsync(viewer, new GetFluxOverview.Query(null, null));

        response.Cluster.ShouldBe("prod");
        response.PartialFailure.ShouldBeTrue();
        response.Results.Count.ShouldBe(12);
        response.Results.ShouldNotContain(result => result.Type == "ImagePolicy");
        response.Results.Single(result => result.Type == "HelmRelease").ShouldBe(new GetFluxOverview.TypeSummary("HelmRelease", "helmreleases", 3, 1, 0, 1, 1, 0));
        response.Results.Single(result => result.Type == "Kustomization").ShouldBe(new GetFluxOverview.TypeSummary("Kustomization", "kustomizations", 3, 2, 1, 0, 0, 0));
        response.Results.Single(result => result.Type == "Bucket").Failed.ShouldBe(1);
        Api.RequestsTo("GET", "/apis/helm.toolkit.fluxcd.io/v2/helmreleases").Count.ShouldBe(1, "listed across all namespaces");
    }

    [Fact]
    public async Task Overview_version_and_event_list_need_a_cluster_wide_read()
    {
        await RegisterAsync();
        var appsOnly = await FluxUserAsync(BaseRole.Viewer, AppsOnlyReader);
        var none = await FluxUserAsync(BaseRole.Viewer, null);

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(appsOnly, new GetFluxOverview.Query(null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(appsOnly, new GetFluxVersion.Query(null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(appsOnly, new ListFluxEvents.Query(50, null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(appsOnly, new StreamEvents.Query(null, 50, null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(none, new StreamEvents.Query("apps", 50, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(appsOnly, new GetFluxOverview.Query(new string('c', 101), null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(appsOnly, new GetFluxVersion.Query(new string('c', 101), null)));
        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Version_comes_from_the_flux_deployments_sorted_by_name()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);

        var response = await Fixture.SendAsAsync(viewer, new GetFluxVersion.Query(null, null));

        response.Version.ShouldBe("v2.4.0");
        response.Namespace.ShouldBe("flux-system");
        response.Controllers.ShouldBe(
        [
            new GetFluxVersion.Controller("helm-controller", "v2.4.0", "ghcr.io/fluxcd/helm-controller:v1.1.0", true),
            new GetFluxVersion.Controller("kustomize-controller", "v2.4.0", "ghcr.io/fluxcd/kustomize-controller:v1.4.0", true),
            new GetFluxVersion.Controller("source-controller", "v2.4.0", "ghcr.io/fluxcd/source-controller:v1.4.1", true),
        ]);
        Api.Requests.ShouldContain(request => request.Path == "/apis/apps/v1/namespaces/flux-system/deployments");
    }

    [Fact]
    public async Task Version_falls_back_to_the_namespace_label_then_the_placeholder()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        foreach (var name in new[] { "source-controller", "kustomize-controller", "helm-controller" })
        {
            Api.Store.Remove("apps/v1", "Deployment", "flux-system", name);
        }

        var fromNamespace = await Fixture.SendAsAsync(admin, new GetFluxVersion.Query(null, null));
        Api.Store.Update("v1", "Namespace", null, "flux-system", ns => ns["metadata"]!["labels"] = new System.Text.Json.Nodes.JsonObject());
        var unknown = await Fixture.SendAsAsync(admin, new GetFluxVersion.Query(null, null));

        fromNamespace.Version.ShouldBe("v2.4.0");
        fromNamespace.Controllers.ShouldBeEmpty();
        unknown.Version.ShouldBe(GetFluxVersion.Unknown);
    }

    [Fact]
    public async Task Logs_keep_the_controller_lines_naming_the_object()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        Api.Store.SetPodLog("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", """
            {"level":"info","msg":"applied","namespace":"flux-system","name":"apps"}
            {"level":"info","msg":"applied","namespace":"flux-system","name":"infrastructure"}
            {"level":"info","msg":"other namespace","namespace":"apps","name":"apps"}
            {"level":"error","msg":"Reconciliation failed","namespace":"flux-system","name":"apps"}
            """);

        Api.Store.Put(YamlJson.ParseObject("""
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata: {name: quiet, namespace: flux-system}
            """));

        var response = await Fixture.SendAsAsync(viewer, new GetFluxResourceLogs.Query("kustomizations", "flux-system", "apps", null, null));
        var none = await Fixture.SendAsAsync(viewer, new GetFluxResourceLogs.Query("kustomizations", "flux-system", "quiet", null, null));
        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(viewer, new GetFluxResourceLogs.Query("kustomizations", "flux-system", "missing", null, null))))
            .StatusCode.ShouldBe(404);

        response.Controller.ShouldBe("kustomize-controller");
        response.Pod.ShouldBe("kustomize-controller-7b8c9d6f4-q8w2e");
        response.Lines.ShouldBe(2);
        response.Logs.Split('\n').ShouldBe(
        [
            """{"level":"info","msg":"applied","namespace":"flux-system","name":"apps"}""",
            """{"level":"error","msg":"Reconciliation failed","namespace":"flux-system","name":"apps"}""",
        ]);
        none.ShouldBe(new GetFluxResourceLogs.Response("No controller log lines matched kustomizations flux-system/quiet.", "kustomize-controller", "kustomize-controller-7b8c9d6f4-q8w2e", 0));
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/api/v1/namespaces/flux-system/pods?labelSelector=app%3Dkustomize-controller&limit=500");
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/api/v1/namespaces/flux-system/pods/kustomize-controller-7b8c9d6f4-q8w2e/log?tailLines=1000");
    }

    [Fact]
    public async Task Logs_skip_a_pod_that_is_not_running_and_need_a_running_one()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        var kustomizationsOnly = await FluxUserAsync(BaseRole.Viewer, """[{"resources":["kustomizations"],"namespaces":[],"actions":["read"],"clusters":[]}]""");
        Api.Store.SetPodLog("flux-system", "helm-controller-84d6c7f5b8-m4n5p", "{\"namespace\":\"apps\",\"name\":\"podinfo\"}");

        var helm = await Fixture.SendAsAsync(viewer, new GetFluxResourceLogs.Query("helmreleases", "apps", "podinfo", null, null));

        helm.Pod.ShouldBe("helm-controller-84d6c7f5b8-m4n5p", "the evicted pod labelled app=helm-controller is not running");
        helm.Lines.ShouldBe(1);
        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new GetFluxResourceLogs.Query("alerts", "flux-system", "on-call", null, null))))
            .Message.ShouldBe("No running notification-controller pod in namespace flux-system");
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(kustomizationsOnly, new GetFluxResourceLogs.Query("helmreleases", "apps", "podinfo", null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetFluxResourceLogs.Query("widgets", "apps", "podinfo", null, null)));
    }

    [Fact]
    public async Task Flux_events_keep_the_controllers_events_newest_first_up_to_the_limit()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);

        var all = await Fixture.SendAsAsync(viewer, new ListFluxEvents.Query(1000, null, null));
        var two = await Fixture.SendAsAsync(viewer, new ListFluxEvents.Query(2, null, null));

        all.Events.Select(view => view.Name).ShouldBe(["apps.180a1b2c3d4e5f60", "infrastructure.180a1b2c3d4e5f62", "apps.180a1b2c3d4e5f61", "podinfo.180a1b2c3d4e5f63"]);
        all.Total.ShouldBe(4);
        two.Events.Select(view => view.Reason).ShouldBe(["ReconciliationSucceeded", "BuildFailed"]);
        two.Total.ShouldBe(2);
        Api.RequestsTo("GET", "/api/v1/events").Select(request => request.PathAndQuery).Distinct().ShouldBe(["/api/v1/events?limit=1000"]);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListFluxEvents.Query(0, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListFluxEvents.Query(1001, null, null)));
    }

    [Fact]
    public async Task Events_of_an_object_come_from_a_field_selected_list_newest_first()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, """[{"resources":["Kustomization"],"namespaces":["flux-system"],"actions":["read"],"clusters":[]}]""");

        var response = await Fixture.SendAsAsync(viewer, new GetFluxResourceEvents.Query("kustomizations", "flux-system", "apps", null, null));

        response.Events.Select(view => (view.Reason, view.Count, view.Source)).ShouldBe([("ReconciliationSucceeded", 3, "kustomize-controller"), ("Progressing", 1, "kustomize-controller")]);
        response.Total.ShouldBe(2);
        response.Events[0].InvolvedObject.ShouldBe(new Capstan.Infrastructure.Flux.InvolvedObjectView("Kustomization", "apps", "flux-system", "kustomize.toolkit.fluxcd.io/v1"));
        Api.Requests.Select(request => request.PathAndQuery).ShouldBe(
        [
            "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps",
            "/api/v1/namespaces/flux-system/events?fieldSelector=involvedObject.name%3Dapps%2CinvolvedObject.kind%3DKustomization",
        ]);
        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(viewer, new GetFluxResourceEvents.Query("kustomizations", "flux-system", "missing", null, null))))
            .StatusCode.ShouldBe(404);
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(viewer, new GetFluxResourceEvents.Query("helmreleases", "apps", "podinfo", null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetFluxResourceEvents.Query("kustomizations", "flux-system", "a_b", null, null)));
    }

    [Fact]
    public async Task Stream_events_as_json_list_one_namespace_for_a_reader_there()
    {
        await RegisterAsync();
        var appsOnly = await FluxUserAsync(BaseRole.Viewer, AppsOnlyReader);

        var response = await Fixture.SendAsAsync(appsOnly, new StreamEvents.Query("apps", 50, null, null));

        response.Events.Select(view => view.Name).ShouldBe(["podinfo.180a1b2c3d4e5f63"], "the scheduler's pod event is not a Flux event");
        response.Total.ShouldBe(1);
        Api.Requests.Single().PathAndQuery.ShouldBe("/api/v1/namespaces/apps/events?limit=1000");
    }

    [Fact]
    public async Task Stream_events_cluster_wide_take_the_newest_up_to_the_limit()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);

        var response = await Fixture.SendAsAsync(viewer, new StreamEvents.Query(null, 3, null, null));

        response.Events.Select(view => view.Name).ShouldBe(["apps.180a1b2c3d4e5f60", "infrastructure.180a1b2c3d4e5f62", "apps.180a1b2c3d4e5f61"]);
        response.Total.ShouldBe(3);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new StreamEvents.Query("Not A Namespace", 50, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new StreamEvents.Query(null, 0, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new StreamEvents.Query(null, 1001, null, null)));
    }

    [Fact]
    public async Task Stream_events_stop_at_a_short_cancellation_and_yield_nothing()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        Api.FailNext("GET", "/api/v1/events", 0, delay: TimeSpan.FromSeconds(10));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var started = DateTimeOffset.UtcNow;

        var exception = await Record.ExceptionAsync(() => SendAsAsync(viewer, new StreamEvents.Query(null, 50, null, null), cancellation.Token));

        exception.ShouldBeAssignableTo<OperationCanceledException>();
        (DateTimeOffset.UtcNow - started).ShouldBeLessThan(TimeSpan.FromSeconds(8), "the cancellation ends the wait, not the server's delay");
        Api.RequestsTo("GET", "/api/v1/events").Count.ShouldBe(1);
    }

    [Fact]
    public async Task History_is_read_newest_first_for_this_cluster_and_object_with_its_filters()
    {
        var cluster = await RegisterAsync();
        var other = await RegisterAsync("staging");
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        await HistoryEntryAsync(cluster, "r1", """{"interval":"1m"}""", status: "success", kind: "Kustomization", ns: "flux-system", name: "apps", age: "3 days");
        await HistoryEntryAsync(cluster, "r2", null, status: "failure", kind: "Kustomization", ns: "flux-system", name: "apps", age: "2 days");
        await HistoryEntryAsync(cluster, "r3", null, status: "success", kind: "Kustomization", ns: "flux-system", name: "apps", age: "1 day");
        await HistoryEntryAsync(cluster, "x", null, kind: "Kustomization", ns: "flux-system", name: "infrastructure", age: "1 hour");
        await HistoryEntryAsync(cluster, "y", null, kind: "HelmRelease", ns: "flux-system", name: "apps", age: "1 hour");
        await HistoryEntryAsync(other, "z", null, kind: "Kustomization", ns: "flux-system", name: "apps", age: "1 hour");

        var all = await Fixture.SendAsAsync(viewer, new GetFluxResourceHistory.Query("kustomizations", "flux-system", "apps", 50, null, null, null, null));
        var successes = await Fixture.SendAsAsync(viewer, new GetFluxResourceHistory.Query("kustomizations", "flux-system", "apps", 1, "success", null, null, null));
        var recent = await Fixture.SendAsAsync(viewer, new GetFluxResourceHistory.Query("kustomizations", "flux-system", "apps", 50, null, DateTime.UtcNow.AddDays(-2.5).ToString("O", System.Globalization.CultureInfo.InvariantCulture), null, null));
        var onStaging = await Fixture.SendAsAsync(viewer, new GetFluxResourceHistory.Query("kustomizations", "flux-system", "apps", 50, null, null, "staging", null));

        all.Timeline.Select(entry => entry.Revision).ShouldBe(["r3", "r2", "r1"]);
        all.Total.ShouldBe(3);
        all.Timeline[2].SpecSnapshot.ShouldBe("""{"interval": "1m"}""");
        all.Timeline.ShouldAllBe(entry => entry.ClusterId == cluster && entry.ResourceType == "Kustomization");
        successes.Timeline.Select(entry => entry.Revision).ShouldBe(["r3"]);
        recent.Timeline.Select(entry => entry.Revision).ShouldBe(["r3", "r2"]);
        onStaging.Timeline.Select(entry => entry.Revision).ShouldBe(["z"]);
        Api.Requests.ShouldBeEmpty("history is read from the database");
    }

    [Theory]
    [InlineData(0, null, null)]
    [InlineData(1001, null, null)]
    [InlineData(50, "fine", null)]
    [InlineData(50, null, "yesterday")]
    public async Task History_validates_limit_status_and_since(int limit, string? status, string? since)
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetFluxResourceHistory.Query("kustomizations", "flux-system", "apps", limit, status, since, null, null)));
    }

    [Fact]
    public async Task History_needs_read_on_the_object()
    {
        await RegisterAsync();
        var appsOnly = await FluxUserAsync(BaseRole.Viewer, AppsOnlyReader);

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(appsOnly, new GetFluxResourceHistory.Query("kustomizations", "flux-system", "apps", 50, null, null, null, null)));
    }

    [Fact]
    public async Task Diff_builds_the_source_and_compares_each_object_with_a_dry_run()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        Api.Store.Put(YamlJson.ParseObject("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: settings, namespace: apps}
            data: {color: red}
            """));
        ServeArtifact(
            ("apps/production/kustomization.yaml", "resources:\n- settings.yaml\n- extra.yaml\n"),
            ("apps/production/settings.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {color: blue}\n"),
            ("apps/production/extra.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {size: large}\n"));

        var response = await Fixture.SendAsAsync(viewer, new GetKustomizationDiff.Query("kustomizations", "flux-system", "apps", null, null));

        response.Revision.ShouldBe("main@sha1:4d7e2b9c3f1a8e6d5c4b3a29180716253443526f");
        // The handler keeps the build's order (the kustomize stand-in prints the resources as listed).
        response.Diffs.Select(diff => (diff.Kind, diff.Name, diff.Namespace, diff.Changed, diff.Live is null, diff.Error)).ShouldBe(
        [
            ("ConfigMap", "settings", "apps", true, false, (string?)null),
            ("ConfigMap", "extra", "apps", true, true, (string?)null),
        ]);
        response.Diffs[0].Desired.ShouldContain("color: blue");
        response.Diffs[0].Live!.ShouldContain("color: red");
        response.Summary.ShouldBe(new GetKustomizationDiff.Summary(2, 2, 1, 0));
        Api.Requests.ShouldContain(request => request.Path == $"/api/v1/namespaces/flux-system/services/source-controller:80/proxy/{ArtifactPath}");
        Api.RequestsTo("PATCH", "/api").Select(request => request.PathAndQuery).ShouldBe(
        [
            "/api/v1/namespaces/apps/configmaps/settings?dryRun=All&fieldManager=capstan-drift-check&force=true",
            "/api/v1/namespaces/apps/configmaps/extra?dryRun=All&fieldManager=capstan-drift-check&force=true",
        ]);
        Api.Store.Get("v1", "ConfigMap", "apps", "settings")!["data"]!["color"]!.GetValue<string>().ShouldBe("red", "a dry run changes nothing");
        Api.Store.Get("v1", "ConfigMap", "apps", "extra").ShouldBeNull();
    }

    [Fact]
    public async Task Diff_refuses_an_unready_source_a_missing_artifact_and_a_missing_path()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);

        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new GetKustomizationDiff.Query("kustomizations", "flux-system", "apps", null, null))))
            .Message.ShouldStartWith("The source artifact could not be fetched");
        ServeArtifact(("other/kustomization.yaml", "resources: []\n"));
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new GetKustomizationDiff.Query("kustomizations", "flux-system", "apps", null, null))))
            .Message.ShouldBe("spec.path './apps/production' does not exist in the source artifact");
        Api.Store.Update("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "flux-system", obj => obj["status"]!["conditions"]![0]!["status"] = "False");
        (await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new GetKustomizationDiff.Query("kustomizations", "flux-system", "apps", null, null))))
            .Message.ShouldBe("Source GitRepository flux-system/flux-system is not ready: it has no artifact to compare with");
        Api.RequestsTo("PATCH", "/api").ShouldBeEmpty();
    }

    [Fact]
    public async Task Diff_is_for_readable_kustomizations_that_exist()
    {
        await RegisterAsync();
        var appsOnly = await FluxUserAsync(BaseRole.Viewer, AppsOnlyReader);
        var viewer = await FluxUserAsync(BaseRole.Viewer, ReadAll);

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetKustomizationDiff.Query("helmreleases", "apps", "podinfo", null, null))))
            .Errors.Single().ErrorMessage.ShouldBe("Diff is available for kustomizations only");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetKustomizationDiff.Query("kustomizations", "flux-system", "Apps", null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(appsOnly, new GetKustomizationDiff.Query("kustomizations", "flux-system", "apps", null, null)));
        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(viewer, new GetKustomizationDiff.Query("Kustomization", "flux-system", "nope", null, null))))
            .StatusCode.ShouldBe(404);
    }

    private async Task<T> SendAsAsync<T>(TestUser user, IRequest<T> request, CancellationToken cancellationToken)
    {
        await using var scope = Fixture.Services.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<Capstan.Infrastructure.Security.RequestContext>();
        context.Caller = user.AsCaller();
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request, cancellationToken);
    }

    private void ServeArtifact(params (string Path, string Content)[] files)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
        using (var tar = new TarWriter(gzip, TarEntryFormat.Pax))
        {
            foreach (var (path, content) in files)
            {
                tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, path) { DataStream = new MemoryStream(Encoding.UTF8.GetBytes(content)) });
            }
        }

        Api.Store.ServeProxyFile("flux-system", "source-controller:80", ArtifactPath, buffer.ToArray());
    }
}
