using System.Formats.Tar;
using System.IO.Compression;
using System.Net;
using System.Text;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>The Kustomization diff: artifact through the source-controller proxy, the kustomize stand-in, dry runs.</summary>
public sealed class KustomizationDiffTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    private const string ArtifactPath = "gitrepository/flux-system/flux-system/4d7e2b9c3f1a.tar.gz";

    [Fact]
    public async Task Diff_builds_the_source_and_compares_each_object_with_a_dry_run()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        Api.Store.Put(YamlJson.ParseObject("""
            apiVersion: apps/v1
            kind: Deployment
            metadata: {name: podinfo, namespace: apps, labels: {app: podinfo}}
            spec: {replicas: 2, selector: {matchLabels: {app: podinfo}}, template: {metadata: {labels: {app: podinfo}}, spec: {containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.7.0"}]}}}
            """));
        ServeArtifact(("apps/production/kustomization.yaml", "resources:\n- deployment.yaml\n- configmap.yaml\n"),
            ("apps/production/deployment.yaml", """
                apiVersion: apps/v1
                kind: Deployment
                metadata: {name: podinfo, labels: {app: podinfo}}
                spec: {replicas: 3, selector: {matchLabels: {app: podinfo}}, template: {metadata: {labels: {app: podinfo}}, spec: {containers: [{name: podinfo, image: "ghcr.io/stefanprodan/podinfo:6.7.1"}]}}}
                """),
            ("apps/production/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: podinfo-config}\ndata: {color: blue}\n"));

        var response = await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/diff?force=true");

        var body = await response.ShouldBeJsonAsync();
        response.Headers.CacheControl!.NoStore.ShouldBeTrue();
        body.PropertyNames().ShouldBe(["diffs", "timestamp", "revision", "summary"]);
        body.GetProperty("revision").GetString().ShouldBe("main@sha1:4d7e2b9c3f1a8e6d5c4b3a29180716253443526f");
        var diffs = body.GetProperty("diffs").EnumerateArray().ToList();
        diffs[0].PropertyNames().ShouldBe(["kind", "name", "namespace", "desired", "live", "changed", "error"]);
        diffs[0].GetProperty("kind").GetString().ShouldBe("Deployment");
        diffs[0].GetProperty("namespace").GetString().ShouldBe("apps", "spec.targetNamespace applies");
        diffs[0].GetProperty("changed").GetBoolean().ShouldBeTrue();
        diffs[0].GetProperty("desired").GetString()!.ShouldContain("replicas: 3");
        diffs[0].GetProperty("live").GetString()!.ShouldContain("replicas: 2");
        diffs[0].GetProperty("desired").GetString()!.ShouldNotContain("managedFields");
        diffs[1].GetProperty("kind").GetString().ShouldBe("ConfigMap");
        diffs[1].GetProperty("live").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        body.GetProperty("summary").GetProperty("added").GetInt32().ShouldBe(1);
        body.GetProperty("summary").GetProperty("changed").GetInt32().ShouldBe(2);
        Api.Requests.ShouldContain(request => request.Path == $"/api/v1/namespaces/flux-system/services/source-controller:80/proxy/{ArtifactPath}");
        var dryRuns = Api.RequestsTo("PATCH", "/api").ToList();
        dryRuns.Select(request => request.PathAndQuery).ShouldBe(
        [
            "/apis/apps/v1/namespaces/apps/deployments/podinfo?dryRun=All&fieldManager=capstan-drift-check&force=true",
            "/api/v1/namespaces/apps/configmaps/podinfo-config?dryRun=All&fieldManager=capstan-drift-check&force=true",
        ]);
        dryRuns.ShouldAllBe(request => request.ContentType == "application/apply-patch+yaml");
        Api.Store.Get("v1", "ConfigMap", "apps", "podinfo-config").ShouldBeNull("a dry run changes nothing");
    }

    [Fact]
    public async Task A_failing_build_is_a_409_with_kustomizes_message()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        ServeArtifact(("apps/production/readme.md", "no kustomization here"));

        (await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/diff")).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString()!.ShouldStartWith("kustomize build failed: Error: unable to find one of 'kustomization.yaml'");
    }

    [Fact]
    public async Task An_unready_source_is_a_409_and_a_missing_artifact_a_503()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        (await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/diff")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString()!.ShouldStartWith("The source artifact could not be fetched");
        Api.Store.Update("source.toolkit.fluxcd.io/v1", "GitRepository", "flux-system", "flux-system", obj => obj["status"]!["conditions"]![0]!["status"] = "False");
        (await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/diff")).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString()!.ShouldContain("is not ready");
    }

    [Fact]
    public async Task Only_kustomizations_have_a_diff_and_it_needs_read()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        var (unbound, _) = await FluxClientAsync(BaseRole.Viewer);

        await (await viewer.GetAsync("/api/v1/flux/helmreleases/apps/podinfo/diff")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await unbound.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/diff")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/nope/diff")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Without_kubectl_the_diff_is_a_503_naming_the_tool()
    {
        var noTool = new WithoutKustomizeFixture();
        await noTool.InitializeAsync();
        try
        {
            await noTool.RegisterClusterAsync(Api, "prod");
            var (viewer, user) = await noTool.ClientAsAsync(BaseRole.Viewer);
            await noTool.ExecuteAsync("INSERT INTO identity.flux_bindings (id, user_id, policy_id) VALUES (gen_random_uuid(), @User, @Policy::uuid)", new { User = user.Id, Policy = ViewerRead });

            var response = await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps/diff");

            (await response.ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable)).GetProperty("message").GetString()!
                .ShouldStartWith("kubectl is not installed: the Kustomization diff needs `kubectl kustomize`");
            Api.Requests.ShouldNotContain(request => request.Path.Contains("/proxy/", StringComparison.Ordinal));
        }
        finally
        {
            await noTool.DisposeAsync();
        }
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

            tar.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "../escape.yaml") { DataStream = new MemoryStream(Encoding.UTF8.GetBytes("kind: Evil")) });
        }

        Api.Store.ServeProxyFile("flux-system", "source-controller:80", ArtifactPath, buffer.ToArray());
    }

    private sealed class WithoutKustomizeFixture : ApiFixture
    {
        protected override string Purpose => "gitops_no_kustomize";

        protected override ApiFactory CreateFactory(string connectionString) =>
            new(connectionString, new Dictionary<string, string?> { ["Flux:Kustomize:Path"] = "/nonexistent/bin/kubectl" });
    }
}
