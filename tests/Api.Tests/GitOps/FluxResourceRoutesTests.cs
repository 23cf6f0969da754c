using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>List, get, create, update and delete of Flux objects, with the exact Kubernetes request of each.</summary>
public sealed class FluxResourceRoutesTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    [Fact]
    public async Task List_returns_gyres_and_seed_001s_fields_from_a_cluster_wide_list()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var body = await (await viewer.GetAsync("/api/v1/flux/kustomizations")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["items", "resources", "total", "hasMore", "offset", "limit", "pagination", "metadata", "cluster"]);
        body.GetProperty("total").GetInt32().ShouldBe(3);
        body.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("metadata").GetProperty("name").GetString()).ShouldBe(["apps", "flux-system", "infrastructure"]);
        body.GetProperty("items")[0].GetProperty("status").GetProperty("conditions")[0].GetProperty("type").GetString().ShouldBe("Ready");
        body.GetProperty("pagination").PropertyNames().ShouldBe(["page", "limit", "total", "totalPages"]);
        body.GetProperty("metadata").GetProperty("resourceVersion").GetString().ShouldNotBeNullOrEmpty();
        body.GetProperty("cluster").GetProperty("name").GetString().ShouldBe("prod");
        Api.RequestsTo("GET", "/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations").Single().Query.ShouldBe("limit=500");
    }

    [Fact]
    public async Task List_sorts_by_status_and_pages_by_offset_or_page()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var byStatus = await (await viewer.GetAsync("/api/v1/flux/HelmRelease?sortBy=status&sortOrder=asc")).ShouldBeJsonAsync();
        var page = await (await viewer.GetAsync("/api/v1/flux/helmreleases?limit=1&offset=1")).ShouldBeJsonAsync();
        var seed001 = await (await viewer.GetAsync("/api/v1/flux/helmreleases?page=2&limit=2")).ShouldBeJsonAsync();

        byStatus.GetProperty("items").EnumerateArray().Select(item => item.GetProperty("metadata").GetProperty("name").GetString()).ShouldBe(["cert-manager", "redis", "podinfo"]);
        page.GetProperty("items").EnumerateArray().Single().GetProperty("metadata").GetProperty("name").GetString().ShouldBe("podinfo");
        page.GetProperty("hasMore").GetBoolean().ShouldBeTrue();
        seed001.GetProperty("resources").GetArrayLength().ShouldBe(1);
        seed001.GetProperty("pagination").GetProperty("page").GetInt32().ShouldBe(2);
        seed001.GetProperty("pagination").GetProperty("totalPages").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task List_in_a_namespace_asks_the_namespaced_path_and_needs_read_there_only()
    {
        await RegisterClusterAsync();
        var scoped = await PolicyAsync("viewer", """[{"resources":["GitRepository"],"namespaces":["apps"],"actions":["read"],"clusters":[]}]""");
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, scoped);

        var body = await (await viewer.GetAsync("/api/v1/flux/gitrepositories?namespace=apps&labelSelector=app%3Dx")).ShouldBeJsonAsync();
        var clusterWide = await viewer.GetAsync("/api/v1/flux/gitrepositories");
        var otherNamespace = await viewer.GetAsync("/api/v1/flux/gitrepositories?namespace=flux-system");

        body.GetProperty("total").GetInt32().ShouldBe(0);
        Api.Requests.ShouldContain(request => request.PathAndQuery == "/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories?labelSelector=app%3Dx&limit=500");
        (await clusterWide.ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString()!.ShouldContain("every namespace");
        await otherNamespace.ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Theory]
    [InlineData("/api/v1/flux/pods", "resourceType")]
    [InlineData("/api/v1/flux/kustomizations?limit=0", "limit")]
    [InlineData("/api/v1/flux/kustomizations?limit=501", "limit")]
    [InlineData("/api/v1/flux/kustomizations?offset=-1", "offset")]
    [InlineData("/api/v1/flux/kustomizations?sortBy=size", "sortBy")]
    [InlineData("/api/v1/flux/kustomizations?sortOrder=up", "sortOrder")]
    [InlineData("/api/v1/flux/kustomizations?namespace=Bad_NS", "namespace")]
    public async Task List_validates_its_parameters(string url, string field)
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        (await (await viewer.GetAsync(url)).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task List_needs_credentials_a_policy_and_a_cluster()
    {
        var (unbound, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        await (await Client.GetAsync("/api/v1/flux/kustomizations")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await (await viewer.GetAsync("/api/v1/flux/kustomizations")).ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString()!.ShouldStartWith("No cluster selected");
        await RegisterClusterAsync();
        await (await unbound.GetAsync("/api/v1/flux/kustomizations")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await viewer.GetAsync("/api/v1/flux/kustomizations?cluster=elsewhere")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_cluster_comes_from_the_query_then_the_cookie_then_the_default()
    {
        await using var other = await FakeKubernetesApi.StartAsync();
        await RegisterClusterAsync("first");
        await Fixture.RegisterClusterAsync(other, "second");
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        other.Store.Remove("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps");

        var byDefault = await (await viewer.GetAsync("/api/v1/flux/kustomizations")).ShouldBeJsonAsync();
        var byQuery = await (await viewer.GetAsync("/api/v1/flux/kustomizations?cluster=second")).ShouldBeJsonAsync();
        using var cookieRequest = new HttpRequestMessage(HttpMethod.Get, "/api/v1/flux/kustomizations");
        cookieRequest.Headers.Add("Cookie", "gyre_cluster=second");
        var byCookie = await (await viewer.SendAsync(cookieRequest)).ShouldBeJsonAsync();

        byDefault.GetProperty("total").GetInt32().ShouldBe(3);
        byQuery.GetProperty("total").GetInt32().ShouldBe(2);
        byCookie.GetProperty("cluster").GetProperty("name").GetString().ShouldBe("second");
    }

    [Fact]
    public async Task Get_returns_the_object_or_its_status_subresource()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        var body = await (await viewer.GetAsync("/api/v1/flux/Kustomization/flux-system/apps")).ShouldBeJsonAsync();
        (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/apps?status=true")).StatusCode.ShouldBe(HttpStatusCode.OK);

        body.GetProperty("spec").GetProperty("path").GetString().ShouldBe("./apps/production");
        Api.Requests.Select(request => request.PathAndQuery).ShouldContain("/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps/status");
        (await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/nope")).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("kustomizations.kustomize.toolkit.fluxcd.io \"nope\" not found");
        await (await viewer.GetAsync("/api/v1/flux/kustomizations/flux-system/Not_A_Name")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await viewer.GetAsync("/api/v1/flux/kustomizations/-bad-/apps")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Create_posts_the_object_to_its_namespace()
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);
        var gitRepository = new JsonObject
        {
            ["apiVersion"] = "source.toolkit.fluxcd.io/v1",
            ["kind"] = "GitRepository",
            ["metadata"] = new JsonObject { ["name"] = "app-config", ["namespace"] = "flux-system", ["resourceVersion"] = "42" },
            ["spec"] = new JsonObject { ["interval"] = "1m", ["url"] = "https://github.com/org/repo" },
            ["status"] = new JsonObject { ["conditions"] = new JsonArray() },
        };

        var response = await editor.PostAsJsonAsync("/api/v1/flux/gitrepositories", gitRepository);

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.GetProperty("metadata").GetProperty("uid").GetString().ShouldNotBeNullOrEmpty();
        response.Headers.Location!.ToString().ShouldBe("/api/v1/flux/gitrepositories/flux-system/app-config");
        var sent = Api.RequestsTo("POST", "/apis/source.toolkit.fluxcd.io/v1/namespaces/flux-system/gitrepositories").Single();
        sent.ContentType.ShouldStartWith("application/json");
        JsonNode.Parse(sent.Body)!["status"].ShouldBeNull();
        JsonNode.Parse(sent.Body)!["metadata"]!["resourceVersion"].ShouldBeNull();
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log WHERE action LIKE 'flux.%'")).ShouldBe("flux.create");
        await (await editor.PostAsJsonAsync("/api/v1/flux/gitrepositories", gitRepository)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Create_takes_seed_001s_wrapper_and_defaults_the_namespace()
    {
        await RegisterClusterAsync("default-cluster");
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);

        var response = await editor.PostAsJsonAsync("/api/v1/flux/kustomizations", new
        {
            cluster = "default-cluster",
            resource = new { apiVersion = "kustomize.toolkit.fluxcd.io/v1", kind = "Kustomization", metadata = new { name = "wrapped" }, spec = new { interval = "5m", path = "./", prune = true, sourceRef = new { kind = "GitRepository", name = "flux-system" } } },
        });

        (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("metadata").GetProperty("namespace").GetString().ShouldBe("default");
    }

    [Theory]
    [InlineData("""{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"x"}}""", "kind")]
    [InlineData("""{"apiVersion":"source.toolkit.fluxcd.io/v1beta2","kind":"GitRepository","metadata":{"name":"x"}}""", "apiVersion")]
    [InlineData("""{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"Bad Name"}}""", "metadata.name")]
    [InlineData("""{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"x","namespace":"NS!"}}""", "metadata.namespace")]
    [InlineData("""{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository"}""", "metadata")]
    [InlineData("""{"apiVersion":"source.toolkit.fluxcd.io/v1","metadata":{"name":"x"}}""", "kind")]
    public async Task Create_checks_the_object_against_the_endpoint(string json, string field)
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);

        var response = await editor.PostAsync("/api/v1/flux/gitrepositories", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
        Api.RequestsTo("POST", "/apis").ShouldBeEmpty();
    }

    [Fact]
    public async Task Create_needs_an_operator_with_a_write_policy_for_that_namespace()
    {
        await RegisterClusterAsync();
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        var (readOnly, _) = await FluxClientAsync(BaseRole.Operator, EditorRead);
        var appsOnly = await PolicyAsync("operator", """[{"resources":[],"namespaces":["apps"],"actions":["write"],"clusters":[]}]""");
        var (scoped, _) = await FluxClientAsync(BaseRole.Operator, appsOnly);
        var body = new { apiVersion = "source.toolkit.fluxcd.io/v1", kind = "GitRepository", metadata = new { name = "x", @namespace = "flux-system" }, spec = new { url = "https://x" } };

        await (await viewer.PostAsJsonAsync("/api/v1/flux/gitrepositories", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await readOnly.PostAsJsonAsync("/api/v1/flux/gitrepositories", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await scoped.PostAsJsonAsync("/api/v1/flux/gitrepositories", body)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await scoped.PostAsJsonAsync("/api/v1/flux/gitrepositories", new { body.apiVersion, body.kind, metadata = new { name = "x", @namespace = "apps" }, body.spec }))
            .StatusCode.ShouldBe(HttpStatusCode.Created);
    }

    [Fact]
    public async Task Update_replaces_from_yaml_filling_in_the_resource_version()
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);
        const string Yaml = """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata:
              name: apps
              namespace: flux-system
            spec:
              interval: 15m
              path: ./apps/production
              prune: true
              sourceRef:
                kind: GitRepository
                name: flux-system
            """;

        var body = await (await editor.PutAsJsonAsync("/api/v1/flux/kustomizations/flux-system/apps", new { yaml = Yaml })).ShouldBeJsonAsync();

        body.GetProperty("spec").GetProperty("interval").GetString().ShouldBe("15m");
        var put = Api.RequestsTo("PUT", "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps").Single();
        JsonNode.Parse(put.Body)!["metadata"]!["resourceVersion"]!.GetValue<string>().ShouldNotBeNullOrEmpty();
        Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!["status"].ShouldNotBeNull("the status subresource is kept");
    }

    [Fact]
    public async Task Update_with_a_stale_version_is_a_409()
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);
        var live = Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!;
        Api.Store.Update("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps", obj => obj["spec"]!["interval"] = "7m");

        var response = await editor.PutAsJsonAsync("/api/v1/flux/kustomizations/flux-system/apps", new { resource = live });

        (await response.ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString()!.ShouldContain("the object has been modified");
    }

    [Theory]
    [InlineData("""{"yaml":"kind: [oops"}""", "yaml")]
    [InlineData("""{"yaml":"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: other, namespace: flux-system}"}""", "metadata.name")]
    [InlineData("""{"yaml":"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: apps}"}""", "metadata.namespace")]
    [InlineData("""{"yaml":"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: apps}"}""", "kind")]
    [InlineData("""{"yaml":""}""", "yaml")]
    public async Task Update_validates_the_manifest(string json, string field)
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);

        var response = await editor.PutAsync("/api/v1/flux/kustomizations/flux-system/apps", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Delete_needs_the_admin_action_and_answers_204()
    {
        await RegisterClusterAsync();
        var (editor, _) = await FluxClientAsync(BaseRole.Operator, EditorRead, EditorWrite);
        var deleter = await PolicyAsync("operator", """[{"resources":["helmreleases"],"namespaces":["apps"],"actions":["admin"],"clusters":[]}]""");
        var (admin, _) = await FluxClientAsync(BaseRole.Operator, deleter);
        var (viewer, _) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);

        await (await viewer.DeleteAsync("/api/v1/flux/helmreleases/apps/redis")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await editor.DeleteAsync("/api/v1/flux/helmreleases/apps/redis")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        var deleted = await admin.DeleteAsync("/api/v1/flux/helmreleases/apps/redis");

        deleted.StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await deleted.Content.ReadAsStringAsync()).ShouldBeEmpty();
        Api.RequestsTo("DELETE", "/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/redis").Count.ShouldBe(1);
        await (await admin.DeleteAsync("/api/v1/flux/helmreleases/apps/redis")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
