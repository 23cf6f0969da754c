using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Features.Tests.Infrastructure.Kubernetes;

/// <summary>The client against the fake API server: every operation, its exact request, and its failures.</summary>
public sealed class KubernetesClientTests(FakeKubernetesFixture fake) : IClassFixture<FakeKubernetesFixture>, IDisposable
{
    private static readonly KubernetesResourceType Kustomizations = new("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization");
    private static readonly KubernetesResourceType GitRepositories = new("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository");

    private readonly KubernetesClient _client = new(KubeConfig.Parse(fake.Api.Kubeconfig()).ToConnection(), "fake");

    private FakeKubernetesApi Api => fake.Api;

    public void Dispose() => _client.Dispose();

    [Fact]
    public async Task Version_and_discovery_come_from_the_api_server()
    {
        (await _client.GetVersionAsync(CancellationToken.None))["gitVersion"]!.GetValue<string>().ShouldBe("v1.30.4");

        (await _client.ResolveKindAsync("kustomize.toolkit.fluxcd.io/v1", "Kustomization", CancellationToken.None)).ShouldBe(Kustomizations);
        (await _client.ResolveKindAsync("v1", "ConfigMap", CancellationToken.None))!.Plural.ShouldBe("configmaps");
        (await _client.ResolveKindAsync("example.com/v1", "Widget", CancellationToken.None)).ShouldBeNull();
    }

    [Fact]
    public async Task Get_returns_the_object_and_404_names_it()
    {
        var kustomization = await _client.GetAsync(Kustomizations, "flux-system", "apps", CancellationToken.None);

        kustomization["status"]!["conditions"]![0]!["type"]!.GetValue<string>().ShouldBe("Ready");
        (await _client.TryGetAsync(Kustomizations, "flux-system", "nope", CancellationToken.None)).ShouldBeNull();
        var missing = await Should.ThrowAsync<KubernetesApiException>(() => _client.GetAsync(Kustomizations, "flux-system", "nope", CancellationToken.None));
        missing.StatusCode.ShouldBe(404);
        missing.Message.ShouldBe("kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found");
    }

    [Fact]
    public async Task Lists_filter_by_namespace_labels_and_fields()
    {
        var all = await _client.ListAllAsync(Kustomizations, null, null, CancellationToken.None);
        var apps = await _client.ListAllAsync(GitRepositories, "apps", null, CancellationToken.None);
        var sourcePods = await _client.ListAllAsync(KubernetesResourceType.Pods, "flux-system", new ListOptions { LabelSelector = "app=source-controller" }, CancellationToken.None);
        var notSource = await _client.ListAllAsync(KubernetesResourceType.Pods, "flux-system", new ListOptions { LabelSelector = "app,app notin (source-controller)" }, CancellationToken.None);
        var events = await _client.ListEventsAsync("flux-system", "involvedObject.name=apps,involvedObject.kind=Kustomization", null, CancellationToken.None);

        all.Items.Count.ShouldBe(3);
        all.ResourceVersion.ShouldNotBeNullOrEmpty();
        apps.Items.Select(item => item["metadata"]!["name"]!.GetValue<string>()).ShouldContain("podinfo");
        apps.Items.ShouldAllBe(item => item["metadata"]!["namespace"]!.GetValue<string>() == "apps");
        sourcePods.Items.Single()["metadata"]!["name"]!.GetValue<string>().ShouldStartWith("source-controller-");
        notSource.Items.Select(pod => pod["metadata"]!["labels"]!["app"]!.GetValue<string>()).ShouldBe(["helm-controller", "kustomize-controller"], ignoreOrder: true);
        events.Count.ShouldBe(2);
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/api/v1/namespaces/flux-system/events?fieldSelector=involvedObject.name%3Dapps%2CinvolvedObject.kind%3DKustomization");
    }

    [Fact]
    public async Task Unsupported_field_selectors_are_a_400()
    {
        var failure = await Should.ThrowAsync<KubernetesApiException>(() => _client.ListAsync(Kustomizations, null, new ListOptions { FieldSelector = "spec.path=./apps" }, CancellationToken.None));

        failure.StatusCode.ShouldBe(400);
        failure.Message.ShouldBe("field label not supported: spec.path");
    }

    [Fact]
    public async Task ListAll_follows_continue_tokens()
    {
        Api.ClearRequests();

        var all = await _client.ListAllAsync(Kustomizations, null, null, CancellationToken.None, chunkSize: 2);
        var first = await _client.ListAsync(Kustomizations, null, new ListOptions { Limit = 1 }, CancellationToken.None);

        all.Items.Count.ShouldBe(3);
        Api.RequestsTo("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations").Count.ShouldBe(3);
        Api.Requests[1].Query.ShouldStartWith("limit=2&continue=");
        first["metadata"]!["continue"]!.GetValue<string>().ShouldNotBeNullOrEmpty();
        first["metadata"]!["remainingItemCount"]!.GetValue<long>().ShouldBe(2);
    }

    [Fact]
    public async Task Create_conflicts_on_a_second_create_and_dry_runs_do_not_persist()
    {
        var body = ConfigMap("created-once");

        var created = await _client.CreateAsync(KubernetesResourceType.Core("configmaps", "ConfigMap"), "default", body, CancellationToken.None);
        var again = await Should.ThrowAsync<KubernetesApiException>(() => _client.CreateAsync(KubernetesResourceType.Core("configmaps", "ConfigMap"), "default", body, CancellationToken.None));
        await _client.CreateAsync(KubernetesResourceType.Core("configmaps", "ConfigMap"), "default", ConfigMap("dry"), CancellationToken.None, new WriteOptions { DryRun = true });

        created["metadata"]!["uid"].ShouldNotBeNull();
        again.StatusCode.ShouldBe(409);
        again.Reason.ShouldBe("AlreadyExists");
        Api.Store.Get("v1", "ConfigMap", "default", "dry").ShouldBeNull();
        Api.Requests.Last().PathAndQuery.ShouldBe("/api/v1/namespaces/default/configmaps?dryRun=All");
    }

    [Fact]
    public async Task Replace_guards_against_lost_updates()
    {
        var created = await _client.CreateAsync(GitRepositories, "apps", GitRepository("replace-me"), CancellationToken.None);
        var stale = (JsonObject)created.DeepClone();
        created["spec"]!["interval"] = "2m";

        var replaced = await _client.ReplaceAsync(GitRepositories, "apps", "replace-me", created, CancellationToken.None);
        var conflict = await Should.ThrowAsync<KubernetesApiException>(() => _client.ReplaceAsync(GitRepositories, "apps", "replace-me", stale, CancellationToken.None));
        var withoutVersion = GitRepository("replace-me");
        var invalid = await Should.ThrowAsync<KubernetesApiException>(() => _client.ReplaceAsync(GitRepositories, "apps", "replace-me", withoutVersion, CancellationToken.None));

        replaced["metadata"]!["generation"]!.GetValue<long>().ShouldBe(2);
        conflict.StatusCode.ShouldBe(409);
        conflict.Message.ShouldContain("the object has been modified");
        invalid.StatusCode.ShouldBe(400);
        invalid.Details!.Keys.ShouldContain("metadata.resourceVersion");
    }

    [Fact]
    public async Task Merge_and_json_patches_send_their_content_types()
    {
        await _client.CreateAsync(GitRepositories, "apps", GitRepository("patch-me"), CancellationToken.None);
        Api.ClearRequests();

        var annotated = await _client.PatchAsync(GitRepositories, "apps", "patch-me",
            KubernetesPatch.Merge(new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { ["reconcile.fluxcd.io/requestedAt"] = "now" } } }),
            CancellationToken.None);
        var suspended = await _client.PatchAsync(GitRepositories, "apps", "patch-me",
            KubernetesPatch.Json(new JsonArray(new JsonObject { ["op"] = "add", ["path"] = "/spec/suspend", ["value"] = true })),
            CancellationToken.None);
        var strategic = await Should.ThrowAsync<KubernetesApiException>(() => _client.PatchAsync(GitRepositories, "apps", "patch-me", KubernetesPatch.StrategicMerge(new JsonObject()), CancellationToken.None));

        annotated["metadata"]!["annotations"]!["reconcile.fluxcd.io/requestedAt"]!.GetValue<string>().ShouldBe("now");
        annotated["metadata"]!["generation"]!.GetValue<long>().ShouldBe(1);
        suspended["spec"]!["suspend"]!.GetValue<bool>().ShouldBeTrue();
        suspended["metadata"]!["generation"]!.GetValue<long>().ShouldBe(2);
        strategic.StatusCode.ShouldBe(400);
        Api.Requests.Select(request => request.ContentType).ShouldBe(
            ["application/merge-patch+json", "application/json-patch+json", "application/strategic-merge-patch+json"]);
    }

    [Fact]
    public async Task Server_side_apply_creates_owns_fields_and_reports_conflicts()
    {
        var desired = GitRepository("applied");

        var created = await _client.PatchAsync(GitRepositories, "apps", "applied", KubernetesPatch.Apply(desired), CancellationToken.None, new WriteOptions { FieldManager = "capstan" });
        var other = GitRepository("applied");
        other["spec"]!["interval"] = "9m";
        var conflict = await Should.ThrowAsync<KubernetesApiException>(() =>
            _client.PatchAsync(GitRepositories, "apps", "applied", KubernetesPatch.Apply(other), CancellationToken.None, new WriteOptions { FieldManager = "someone-else" }));
        var forced = await _client.PatchAsync(GitRepositories, "apps", "applied", KubernetesPatch.Apply(other), CancellationToken.None, new WriteOptions { FieldManager = "someone-else", Force = true });
        var dryRun = await _client.PatchAsync(GitRepositories, "apps", "applied", KubernetesPatch.ApplyYaml("apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\nmetadata:\n  name: applied\nspec:\n  interval: 1h\n"), CancellationToken.None,
            new WriteOptions { FieldManager = "someone-else", DryRun = true, Force = true });

        created["metadata"]!["managedFields"]![0]!["manager"]!.GetValue<string>().ShouldBe("capstan");
        conflict.StatusCode.ShouldBe(409);
        conflict.Message.ShouldContain("conflict with \"capstan\": .spec.interval");
        forced["spec"]!["interval"]!.GetValue<string>().ShouldBe("9m");
        dryRun["spec"]!["interval"]!.GetValue<string>().ShouldBe("1h");
        dryRun["spec"]!["url"]!.GetValue<string>().ShouldBe("https://github.com/example/repo", "still owned by capstan too");
        Api.Store.Get("source.toolkit.fluxcd.io/v1", "GitRepository", "apps", "applied")!["spec"]!["interval"]!.GetValue<string>().ShouldBe("9m");
        Api.Requests.Last().PathAndQuery.ShouldBe("/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories/applied?dryRun=All&fieldManager=someone-else&force=true");
        Api.Requests.Last().ContentType.ShouldStartWith("application/apply-patch+yaml");
    }

    [Fact]
    public async Task Delete_removes_the_object()
    {
        await _client.CreateAsync(GitRepositories, "apps", GitRepository("doomed"), CancellationToken.None);

        await _client.DeleteAsync(GitRepositories, "apps", "doomed", CancellationToken.None);

        (await _client.TryGetAsync(GitRepositories, "apps", "doomed", CancellationToken.None)).ShouldBeNull();
        (await Should.ThrowAsync<KubernetesApiException>(() => _client.DeleteAsync(GitRepositories, "apps", "doomed", CancellationToken.None))).StatusCode.ShouldBe(404);
    }

    [Fact]
    public async Task Watch_streams_changes_made_in_the_cluster_after_a_list()
    {
        var list = await _client.ListAllAsync(Kustomizations, "flux-system", null, CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var events = new List<WatchEvent>();
        var watching = Task.Run(async () =>
        {
            await foreach (var watchEvent in _client.WatchAsync(Kustomizations, "flux-system", new WatchOptions { ResourceVersion = list.ResourceVersion }, cts.Token))
            {
                events.Add(watchEvent);
                if (watchEvent.Type == "DELETED")
                {
                    return;
                }
            }
        });
        await WaitUntilAsync(() => Api.Store.WatcherCount > 0);

        Api.Store.Update("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "infrastructure", obj => obj["status"]!["lastAttemptedRevision"] = "main@sha1:new");
        Api.Store.Bookmark();
        Api.Store.Put(YamlJson.ParseObject("apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: temp, namespace: flux-system}\nspec: {interval: 1m}"));
        Api.Store.Remove("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "temp");
        await watching;

        events.Select(watchEvent => watchEvent.Type).ShouldBe(["MODIFIED", "BOOKMARK", "ADDED", "DELETED"]);
        events[0].Object["status"]!["lastAttemptedRevision"]!.GetValue<string>().ShouldBe("main@sha1:new");
        long.Parse(events[3].ResourceVersion!, System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(long.Parse(list.ResourceVersion!, System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task A_watch_from_a_compacted_version_is_expired()
    {
        await using var own = await FakeKubernetesApi.StartAsync();
        using var client = new KubernetesClient(KubeConfig.Parse(own.Kubeconfig()).ToConnection(), "own");
        var before = own.Store.CurrentResourceVersion;
        own.Store.Update("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps", obj => obj["metadata"]!["labels"] = new JsonObject { ["x"] = "y" });
        own.Store.Compact();

        var expired = await Should.ThrowAsync<KubernetesApiException>(async () =>
        {
            await foreach (var unused in client.WatchAsync(Kustomizations, null, new WatchOptions { ResourceVersion = before }, CancellationToken.None))
            {
            }
        });

        expired.IsExpired.ShouldBeTrue();
        expired.StatusCode.ShouldBe(410);
    }

    [Fact]
    public async Task Pod_logs_tail_and_follow()
    {
        Api.Store.SetPodLog("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", "one\ntwo\nthree");

        var tail = await _client.GetPodLogsAsync("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", new PodLogOptions { TailLines = 2 }, CancellationToken.None);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var followed = new List<string>();
        await foreach (var line in _client.StreamPodLogsAsync("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", new PodLogOptions { TailLines = 1 }, cts.Token))
        {
            followed.Add(line);
            if (followed.Count == 1)
            {
                Api.Store.AppendPodLog("flux-system", "kustomize-controller-7b8c9d6f4-q8w2e", "four");
            }
            else
            {
                break;
            }
        }

        tail.ShouldBe("two\nthree\n");
        followed.ShouldBe(["three", "four"]);
        var missing = await Should.ThrowAsync<KubernetesApiException>(() => _client.GetPodLogsAsync("flux-system", "nope", null, CancellationToken.None));
        missing.StatusCode.ShouldBe(404);
    }

    [Fact]
    public async Task Deadlines_become_a_503_naming_the_cluster()
    {
        using var impatient = new KubernetesClient(KubeConfig.Parse(Api.Kubeconfig()).ToConnection(), "slow", new KubernetesClientOptions { GetTimeout = TimeSpan.FromMilliseconds(200) });
        Api.FailNext("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps", 0, delay: TimeSpan.FromSeconds(3));

        var failure = await Should.ThrowAsync<KubernetesApiException>(() => impatient.GetAsync(Kustomizations, "flux-system", "apps", CancellationToken.None));

        failure.StatusCode.ShouldBe(503);
        failure.Message.ShouldBe("Kubernetes cluster 'slow' did not answer within 0.2 s (get kustomizations)");
    }

    [Fact]
    public async Task Cancellation_is_honoured()
    {
        Api.FailNext("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/flux-system", 0, delay: TimeSpan.FromSeconds(3));
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));

        await Should.ThrowAsync<OperationCanceledException>(() => _client.GetAsync(Kustomizations, "flux-system", "flux-system", cts.Token));
    }

    [Fact]
    public async Task An_unreachable_server_is_a_503()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        using var client = new KubernetesClient(new ClusterConnection { Server = new Uri($"http://127.0.0.1:{port}") }, "gone");

        var failure = await Should.ThrowAsync<KubernetesApiException>(() => client.GetVersionAsync(CancellationToken.None));

        failure.StatusCode.ShouldBe(503);
        failure.Message.ShouldStartWith("Kubernetes cluster 'gone' is unreachable");
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        for (var attempt = 0; attempt < 200 && !condition(); attempt++)
        {
            await Task.Delay(25);
        }

        condition().ShouldBeTrue();
    }

    private static JsonObject ConfigMap(string name) =>
        new() { ["apiVersion"] = "v1", ["kind"] = "ConfigMap", ["metadata"] = new JsonObject { ["name"] = name }, ["data"] = new JsonObject { ["a"] = "1" } };

    private static JsonObject GitRepository(string name) => new()
    {
        ["apiVersion"] = "source.toolkit.fluxcd.io/v1",
        ["kind"] = "GitRepository",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "apps" },
        ["spec"] = new JsonObject { ["interval"] = "1m", ["url"] = "https://github.com/example/repo" },
    };
}
