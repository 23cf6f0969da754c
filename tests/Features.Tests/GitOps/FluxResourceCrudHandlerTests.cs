using System.Text.Json.Nodes;
using Capstan.Features.GitOps;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;

namespace Capstan.Features.Tests.GitOps;

/// <summary>Create, get, update and delete of one Flux object: the request the fake API server receives, the object it
/// holds afterwards, the audit row, and the validator's and handler's refusals.</summary>
public sealed class FluxResourceCrudHandlerTests(GitOpsHandlerFixture fixture, FakeKubernetesFixture fake) : FluxSliceHandlerTest(fixture, fake)
{
    private const string GitRepositories = "/apis/source.toolkit.fluxcd.io/v1/namespaces/apps/gitrepositories";
    private const string AppsKustomization = "/apis/kustomize.toolkit.fluxcd.io/v1/namespaces/flux-system/kustomizations/apps";

    private static JsonObject NewRepository(string? ns = "apps")
    {
        var repository = JsonNode.Parse("""
            {"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository",
             "metadata":{"name":"charts","uid":"stale-uid","resourceVersion":"42","managedFields":[{"manager":"x"}]},
             "spec":{"interval":"5m","url":"https://github.com/example/charts","ref":{"branch":"main"}},
             "status":{"artifact":{"revision":"forged"}}}
            """)!.AsObject();
        if (ns is not null)
        {
            var metadata = repository["metadata"]!.AsObject();
            metadata.Insert(1, "namespace", ns);
        }

        return repository;
    }

    [Fact]
    public async Task Create_posts_the_object_without_server_fields_and_audits_it()
    {
        var cluster = await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, """[{"resources":["GitRepository"],"namespaces":["apps"],"actions":["write"],"clusters":[]}]""");

        var created = await Fixture.SendAsAsync(operatorUser, new CreateFluxResource.Command("gitrepositories", NewRepository(), null, null));

        created["metadata"]!["name"]!.GetValue<string>().ShouldBe("charts");
        created["metadata"]!["uid"]!.GetValue<string>().ShouldNotBe("stale-uid");
        var sent = Api.RequestsTo("POST", GitRepositories).Single();
        sent.Path.ShouldBe(GitRepositories);
        var body = sent.Json!.AsObject();
        body["status"].ShouldBeNull();
        body["metadata"]!.AsObject().Select(pair => pair.Key).ShouldBe(["name", "namespace"]);
        body["spec"]!["url"]!.GetValue<string>().ShouldBe("https://github.com/example/charts");
        Api.Store.Get("source.toolkit.fluxcd.io/v1", "GitRepository", "apps", "charts")!["spec"]!["ref"]!["branch"]!.GetValue<string>().ShouldBe("main");
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId, audit.ResourceName, audit.ActorId).ShouldBe(("flux.create", "GitRepository", "apps/charts", "charts", (Guid?)operatorUser.Id));
        JsonNode.Parse(audit.Metadata)!["cluster"]!.GetValue<string>().ShouldBe("prod");
        cluster.ShouldNotBe(Guid.Empty);
    }

    [Fact]
    public async Task Create_takes_the_wrapped_resource_its_cluster_and_defaults_the_namespace()
    {
        await RegisterAsync("prod");
        await RegisterAsync("staging");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var wrapped = new JsonObject { ["cluster"] = "staging", ["resource"] = NewRepository(ns: null) };

        var created = await Fixture.SendAsAsync(admin, new CreateFluxResource.Command("GitRepository", wrapped, null, null));

        created["metadata"]!["namespace"]!.GetValue<string>().ShouldBe("default");
        Api.RequestsTo("POST", "/apis/source.toolkit.fluxcd.io/v1/namespaces/default/gitrepositories").Count.ShouldBe(1);
        JsonNode.Parse((await AuditAsync()).Single().Metadata)!["cluster"]!.GetValue<string>().ShouldBe("staging");
    }

    [Fact]
    public async Task Create_refuses_a_kind_or_api_version_the_endpoint_does_not_serve()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var wrongKind = NewRepository();
        wrongKind["kind"] = "HelmRepository";
        var wrongVersion = NewRepository();
        wrongVersion["apiVersion"] = "source.toolkit.fluxcd.io/v1beta2";

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new CreateFluxResource.Command("gitrepositories", wrongKind, null, null))))
            .Message.ShouldBe("kind mismatch: body declares \"HelmRepository\" but endpoint handles \"GitRepository\"");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new CreateFluxResource.Command("gitrepositories", wrongVersion, null, null))))
            .Details!.Keys.ShouldBe(["apiVersion"]);
        Api.RequestsTo("POST", "/apis").ShouldBeEmpty();
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Theory]
    [InlineData("widgets", """{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"charts"}}""")]
    [InlineData("gitrepositories", null)]
    [InlineData("gitrepositories", """{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository"}""")]
    [InlineData("gitrepositories", """{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"Not_A_Name"}}""")]
    [InlineData("gitrepositories", """{"apiVersion":"source.toolkit.fluxcd.io/v1","kind":"GitRepository","metadata":{"name":"charts","namespace":"-apps"}}""")]
    [InlineData("gitrepositories", """{"apiVersion":"source.toolkit.fluxcd.io/v1","metadata":{"name":"charts"}}""")]
    public async Task Create_validates_the_type_and_the_object(string type, string? json)
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new CreateFluxResource.Command(type, json is null ? null : JsonNode.Parse(json)!.AsObject(), null, null)));

        Api.Requests.ShouldBeEmpty();
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Create_needs_write_in_that_namespace_and_a_visible_cluster()
    {
        await RegisterAsync();
        var appsWriter = await FluxUserAsync(BaseRole.Operator, """[{"resources":[],"namespaces":["apps"],"actions":["write"],"clusters":[]}]""");
        var reader = await FluxUserAsync(BaseRole.Viewer, ReadAll);
        var elsewhere = NewRepository(ns: "flux-system");

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(appsWriter, new CreateFluxResource.Command("gitrepositories", elsewhere, null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(reader, new CreateFluxResource.Command("gitrepositories", NewRepository(), null, null)));
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(appsWriter, new CreateFluxResource.Command("gitrepositories", NewRepository(), "nowhere", null))))
            .Message.ShouldBe("Cluster 'nowhere' not found");
        Api.RequestsTo("POST", "/apis").ShouldBeEmpty();
    }

    [Fact]
    public async Task Create_of_an_existing_name_is_the_clusters_conflict()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var existing = NewRepository();
        existing["metadata"]!["name"] = "podinfo";

        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(admin, new CreateFluxResource.Command("gitrepositories", existing, null, null))))
            .StatusCode.ShouldBe(409);
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Get_returns_the_object_or_asks_for_its_status_subresource()
    {
        await RegisterAsync();
        var viewer = await FluxUserAsync(BaseRole.Viewer, """[{"resources":["kustomizations"],"namespaces":["flux-*"],"actions":["read"],"clusters":[]}]""");

        var whole = await Fixture.SendAsAsync(viewer, new GetFluxResource.Query("kustomizations", "flux-system", "apps", false, null, null));
        var status = await Fixture.SendAsAsync(viewer, new GetFluxResource.Query("Kustomization", "flux-system", "apps", true, null, null));

        whole["spec"]!["sourceRef"]!["name"]!.GetValue<string>().ShouldBe("flux-system");
        status["status"]!["conditions"]![0]!["reason"]!.GetValue<string>().ShouldBe("ReconciliationSucceeded");
        Api.RequestsTo("GET", AppsKustomization).Select(request => request.Path).ShouldBe([AppsKustomization, AppsKustomization + "/status"]);
    }

    [Fact]
    public async Task Get_needs_read_on_that_kind_and_namespace_and_names_a_missing_object()
    {
        await RegisterAsync();
        var kustomizationsOnly = await FluxUserAsync(BaseRole.Viewer, """[{"resources":["Kustomization"],"namespaces":[],"actions":["read"],"clusters":[]}]""");

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(kustomizationsOnly, new GetFluxResource.Query("helmreleases", "apps", "podinfo", false, null, null)));
        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(kustomizationsOnly, new GetFluxResource.Query("kustomizations", "flux-system", "missing", false, null, null))))
            .StatusCode.ShouldBe(404);
        Api.RequestsTo("GET", "/apis/helm.toolkit.fluxcd.io").ShouldBeEmpty();
    }

    [Theory]
    [InlineData("widgets", "flux-system", "apps")]
    [InlineData("kustomizations", "Flux_System", "apps")]
    [InlineData("kustomizations", "flux-system", "")]
    public async Task Get_validates_type_namespace_and_name(string type, string ns, string name)
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new GetFluxResource.Query(type, ns, name, false, null, null)));

        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Update_from_yaml_fills_in_the_live_resource_version_and_replaces_the_object()
    {
        await RegisterAsync();
        var operatorUser = await FluxUserAsync(BaseRole.Operator, WriteAll);
        var live = Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!;
        var yaml = """
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata:
              name: apps
              managedFields: [{manager: kubectl}]
            spec:
              interval: 7m
              path: ./apps/production
              prune: true
              sourceRef: {kind: GitRepository, name: flux-system}
            """;

        var replaced = await Fixture.SendAsAsync(operatorUser, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", new JsonObject { ["yaml"] = yaml }, null, null));

        replaced["spec"]!["interval"]!.GetValue<string>().ShouldBe("7m");
        var put = Api.RequestsTo("PUT", AppsKustomization).Single();
        put.Json!["metadata"]!["resourceVersion"]!.GetValue<string>().ShouldBe(live["metadata"]!["resourceVersion"]!.GetValue<string>());
        put.Json!["metadata"]!["namespace"]!.GetValue<string>().ShouldBe("flux-system");
        put.Json!["metadata"]!.AsObject().ContainsKey("managedFields").ShouldBeFalse();
        Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!["spec"]!["interval"]!.GetValue<string>().ShouldBe("7m");
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId, audit.ActorId).ShouldBe(("flux.update", "Kustomization", "flux-system/apps", (Guid?)operatorUser.Id));
    }

    [Fact]
    public async Task Update_with_a_stale_resource_version_is_the_clusters_409_and_changes_nothing()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var stale = Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!.DeepClone().AsObject();
        Api.Store.Update("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps", obj => obj["spec"]!["interval"] = "9m");
        stale["spec"]!["interval"] = "1m";

        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(admin, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", stale, null, null))))
            .StatusCode.ShouldBe(409);

        Api.Store.Get("kustomize.toolkit.fluxcd.io/v1", "Kustomization", "flux-system", "apps")!["spec"]!["interval"]!.GetValue<string>().ShouldBe("9m");
        Api.RequestsTo("GET", AppsKustomization).ShouldBeEmpty("a given resourceVersion is sent as it is");
        (await AuditAsync()).ShouldBeEmpty();
    }

    [Fact]
    public async Task Update_refuses_a_manifest_for_another_object()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var otherName = JsonNode.Parse("""{"resource":{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"infrastructure"}}}""")!.AsObject();
        var otherNamespace = JsonNode.Parse("""{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"apps","namespace":"apps"}}""")!.AsObject();
        var otherKind = JsonNode.Parse("""{"apiVersion":"helm.toolkit.fluxcd.io/v2","kind":"HelmRelease","metadata":{"name":"apps"}}""")!.AsObject();
        var badYaml = new JsonObject { ["yaml"] = "kind: [unclosed" };

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", otherName, null, null))))
            .Details!.Keys.ShouldBe(["metadata.name"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", otherNamespace, null, null))))
            .Details!.Keys.ShouldBe(["metadata.namespace"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", otherKind, null, null))))
            .Details!.Keys.ShouldBe(["kind"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", badYaml, null, null))))
            .Details!.Keys.ShouldBe(["yaml"]);
        Api.Requests.ShouldBeEmpty();
    }

    [Fact]
    public async Task Update_validates_the_body_and_needs_write()
    {
        await RegisterAsync();
        var reader = await FluxUserAsync(BaseRole.Operator, ReadAll);
        var manifest = JsonNode.Parse("""{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"apps"}}""")!.AsObject();

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(reader, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", null, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(reader, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", new JsonObject { ["yaml"] = string.Empty }, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(reader, new UpdateFluxResource.Command("kustomizations", "flux-system", "Apps!", manifest, null, null)));
        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(reader, new UpdateFluxResource.Command("kustomizations", "flux-system", "apps", manifest, null, null)));
        Api.RequestsTo("PUT", "/apis").ShouldBeEmpty();
    }

    [Fact]
    public async Task Delete_needs_the_admin_action_then_deletes_and_audits()
    {
        await RegisterAsync();
        var writer = await FluxUserAsync(BaseRole.Operator, WriteAll);
        var deleter = await FluxUserAsync(BaseRole.Operator, AdminAll);

        await Should.ThrowAsync<ForbiddenException>(() => Fixture.SendAsAsync(writer, new DeleteFluxResource.Command("helmreleases", "apps", "redis", null, null)));
        Api.RequestsTo("DELETE", "/apis").ShouldBeEmpty();
        var deleted = await Fixture.SendAsAsync(deleter, new DeleteFluxResource.Command("helmreleases", "apps", "redis", null, null));

        deleted.ShouldBeTrue();
        Api.RequestsTo("DELETE", "/apis").Select(request => request.Path).ShouldBe(["/apis/helm.toolkit.fluxcd.io/v2/namespaces/apps/helmreleases/redis"]);
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "redis").ShouldBeNull();
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "podinfo").ShouldNotBeNull();
        var audit = (await AuditAsync()).Single();
        (audit.Action, audit.ResourceType, audit.ResourceId, audit.ActorId).ShouldBe(("flux.delete", "HelmRelease", "apps/redis", (Guid?)deleter.Id));
    }

    [Fact]
    public async Task Delete_of_a_missing_object_is_a_404_and_validates_its_route()
    {
        await RegisterAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Should.ThrowAsync<KubernetesApiException>(() => Fixture.SendAsAsync(admin, new DeleteFluxResource.Command("helmreleases", "apps", "missing", null, null))))
            .StatusCode.ShouldBe(404);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new DeleteFluxResource.Command("widgets", "apps", "redis", null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new DeleteFluxResource.Command("helmreleases", new string('a', 64), "redis", null, null)));
        (await AuditAsync()).ShouldBeEmpty();
        Api.Store.Get("helm.toolkit.fluxcd.io/v2", "HelmRelease", "apps", "redis").ShouldNotBeNull();
    }
}
