using System.Text.Json.Nodes;
using Capstan.Features.Delivery.Diagnostics;
using Capstan.Features.Delivery.Workflows;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using FluentValidation;

namespace Capstan.Features.Tests.Delivery.Diagnostics;

/// <summary>The service-node diagnostics, fix templates and fixes through the real pipeline against a fake Kubernetes
/// API server: each check's verdict, each template's YAML, what a fix may touch, and ownership.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class ServiceDiagnosticsHandlerTests(DeliveryHandlerFixture fixture, FakeKubernetesFixture fake)
    : HandlerTest<DeliveryHandlerFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    private const string ServiceData = """{"name":"api-svc","targetApp":"api","port":80,"targetPort":8080}""";

    private FakeKubernetesApi Api => fake.Api;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Api.Reset();
        Api.Store.RegisterType(new FakeResourceType(string.Empty, "v1", "endpoints", "Endpoints", HasStatus: false));
        await Fixture.RegisterClusterAsync(Api, "prod");
    }

    private async Task<Guid> WorkflowAsync(TestUser owner, string serviceData = ServiceData)
    {
        var nodes = new JsonArray(
            JsonNode.Parse($$"""{"id":"svc","type":"service","data":{{serviceData}}}"""),
            JsonNode.Parse("""{"id":"bare","type":"service","data":{"name":"bare-svc","port":80}}"""),
            JsonNode.Parse("""{"id":"dep","type":"deployment","data":{"name":"api","image":"api:1","port":8080}}"""));
        var created = await Fixture.SendAsAsync(owner, new CreateWorkflow.Command { Name = "shop", ClusterId = "prod", Nodes = nodes, Edges = new JsonArray() });
        return created["id"]!.GetValue<Guid>();
    }

    private void PutService(string type = "ClusterIP", string selector = """{"app":"api"}""", string targetPort = "8080", string name = "api-svc", string? ingressIp = null)
    {
        var service = JsonNode.Parse($$$"""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"{{{name}}}","namespace":"default"},
             "spec":{"type":"{{{type}}}","selector":{{{selector}}},"ports":[{"port":80,"targetPort":{{{targetPort}}}}]}}
            """)!.AsObject();
        if (ingressIp is not null)
        {
            service["status"] = new JsonObject { ["loadBalancer"] = new JsonObject { ["ingress"] = new JsonArray(new JsonObject { ["ip"] = ingressIp }) } };
        }

        Api.Store.Put(service);
    }

    private void PutEndpoints(int addresses)
    {
        var list = new JsonArray([.. Enumerable.Range(1, addresses).Select(i => (JsonNode)new JsonObject { ["ip"] = $"10.0.0.{i}" })]);
        Api.Store.Put(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Endpoints",
            ["metadata"] = new JsonObject { ["name"] = "api-svc", ["namespace"] = "default" },
            ["subsets"] = new JsonArray(new JsonObject { ["addresses"] = list }),
        });
    }

    private void PutPod(string name, bool ready, int port = 8080, string app = "api")
    {
        var state = ready ? new JsonObject { ["running"] = new JsonObject() } : new JsonObject { ["waiting"] = new JsonObject { ["reason"] = "CrashLoopBackOff" } };
        Api.Store.Put(new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Pod",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default", ["labels"] = new JsonObject { ["app"] = app } },
            ["spec"] = JsonNode.Parse("{\"containers\":[{\"name\":\"c\",\"image\":\"api:1\",\"ports\":[{\"containerPort\":" + port + "}]}]}"),
            ["status"] = new JsonObject
            {
                ["phase"] = "Running",
                ["conditions"] = new JsonArray(new JsonObject { ["type"] = "Ready", ["status"] = ready ? "True" : "False" }),
                ["containerStatuses"] = new JsonArray(new JsonObject { ["name"] = "c", ["ready"] = ready, ["state"] = state }),
            },
        });
    }

    private void PutMetalLbNamespace() =>
        Api.Store.Put(new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Namespace", ["metadata"] = new JsonObject { ["name"] = "metallb-system" } });

    private static GetNodeDiagnostics.Check Check(GetNodeDiagnostics.Response response, string name) => response.Checks.Single(check => check.Name == name);

    [Fact]
    public async Task A_healthy_service_passes_every_check_in_order()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);
        PutService();
        PutEndpoints(2);
        PutPod("api-1", ready: true);

        var response = await Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "svc"));

        response.OverallStatus.ShouldBe("healthy");
        response.ServiceName.ShouldBe("api-svc");
        response.Namespace.ShouldBe("default");
        response.Checks.Select(check => check.Name).ShouldBe(["service-exists", "endpoints-exist", "selector-match", "pods-ready", "port-config"]);
        response.Checks.ShouldAllBe(check => check.Status == "pass" && !check.AutoFixable && check.FixType == null);
        Check(response, "endpoints-exist").Message.ShouldBe("2 endpoint(s) ready");
        Check(response, "selector-match").Message.ShouldBe("1 pod(s) match selector app=api");
    }

    [Fact]
    public async Task A_missing_service_is_the_only_check_and_an_error()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);

        var response = await Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "svc"));

        response.OverallStatus.ShouldBe("error");
        var check = response.Checks.Single();
        check.Name.ShouldBe("service-exists");
        check.Status.ShouldBe("error");
        check.Message.ShouldBe("Service default/api-svc does not exist in the cluster");
    }

    [Fact]
    public async Task A_wrong_selector_and_an_unassigned_load_balancer_are_found_with_their_fixes()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);
        PutService("LoadBalancer", """{"app":"wrong"}""");
        PutPod("api-1", ready: true);

        var withoutMetalLb = await Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "svc"));
        PutMetalLbNamespace();
        var withMetalLb = await Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "svc"));

        withoutMetalLb.OverallStatus.ShouldBe("error");
        withoutMetalLb.Checks.Select(check => check.Name).ShouldBe(["service-exists", "endpoints-exist", "loadbalancer-provisioned", "selector-match"]);
        Check(withoutMetalLb, "endpoints-exist").Status.ShouldBe("error");
        var selector = Check(withoutMetalLb, "selector-match");
        selector.Status.ShouldBe("error");
        selector.Message.ShouldBe("No pods match selector app=wrong");
        selector.AutoFixable.ShouldBeTrue();
        selector.FixType.ShouldBe("selector-fix");
        var noMetalLb = Check(withoutMetalLb, "loadbalancer-provisioned");
        noMetalLb.Status.ShouldBe("warning");
        noMetalLb.AutoFixable.ShouldBeFalse();
        noMetalLb.FixType.ShouldBeNull();
        var metalLb = Check(withMetalLb, "loadbalancer-provisioned");
        metalLb.AutoFixable.ShouldBeTrue();
        metalLb.FixType.ShouldBe("metallb-pool");
    }

    [Fact]
    public async Task An_assigned_load_balancer_passes_and_not_ready_pods_and_a_wrong_port_are_warnings()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);
        PutService("LoadBalancer", ingressIp: "10.9.9.9");
        PutEndpoints(1);
        PutPod("api-1", ready: true, port: 9090);
        PutPod("api-2", ready: false, port: 9090);

        var response = await Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "svc"));

        response.OverallStatus.ShouldBe("warning");
        Check(response, "loadbalancer-provisioned").Message.ShouldBe("Load balancer address: 10.9.9.9");
        var pods = Check(response, "pods-ready");
        pods.Status.ShouldBe("warning");
        pods.Message.ShouldBe("Pods not ready: api-2 (CrashLoopBackOff)");
        var port = Check(response, "port-config");
        port.Status.ShouldBe("warning");
        port.FixType.ShouldBe("port-fix");
        port.Message.ShouldBe("Target port 8080 is not a port of the selected containers (9090, 9090)");
    }

    [Fact]
    public async Task No_ready_pod_is_an_error_and_a_service_without_selector_a_fixable_warning()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);
        PutService();
        PutEndpoints(1);
        PutPod("api-1", ready: false);

        var notReady = await Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "svc"));
        PutService(selector: "{}");
        var noSelector = await Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "svc"));

        Check(notReady, "pods-ready").Status.ShouldBe("error");
        notReady.OverallStatus.ShouldBe("error");
        var selector = Check(noSelector, "selector-match");
        selector.Status.ShouldBe("warning");
        selector.Suggestion.ShouldBe("Select the pods of app 'api'");
        selector.FixType.ShouldBe("selector-fix");
        noSelector.Checks.Select(check => check.Name).ShouldNotContain("pods-ready");
    }

    [Fact]
    public async Task Diagnostics_refuse_unknown_nodes_other_kinds_other_owners_and_bad_ids()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "nope")))).Message.ShouldBe("Node not found");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, "dep")))).Message.ShouldBe("Diagnostics only supported for service nodes");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new GetNodeDiagnostics.Query(id, "svc")));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(Guid.CreateVersion7(), "svc")));
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(Guid.Empty, "svc"))))
            .Errors.Select(error => error.PropertyName).ShouldContain("id");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetNodeDiagnostics.Query(id, new string('n', 201)))))
            .Errors.Select(error => error.PropertyName).ShouldContain("nodeId");
        Api.RequestsTo("GET", "/api/v1/namespaces/default/services").ShouldBeEmpty("nothing is asked of the cluster for a refused request");
    }

    [Fact]
    public async Task The_selector_template_selects_the_target_app_and_needs_one()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);

        var template = await Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "svc", "selector-fix"));

        template.Name.ShouldBe("Fix service selector");
        template.Description.ShouldBe("Select the pods labelled app=api");
        template.ApplyMethod.ShouldBe("kubectl-apply");
        template.FixType.ShouldBe("selector-fix");
        template.Yaml.ShouldContain("name: api-svc");
        template.Yaml.ShouldContain("app: api");
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "bare", "selector-fix"))))
            .Message.ShouldStartWith("The service node names no targetApp");
    }

    [Fact]
    public async Task The_port_template_uses_the_nodes_target_port_else_the_pods_container_port()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var explicitPort = await WorkflowAsync(viewer);
        var fromPods = await WorkflowAsync(viewer, """{"name":"api-svc","targetApp":"api","port":81}""");
        PutPod("api-1", ready: true, port: 9090);

        var given = await Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(explicitPort, "svc", "port-fix"));
        var found = await Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(fromPods, "svc", "port-fix"));

        given.Description.ShouldBe("Route port 80 to container port 8080");
        given.Yaml.ShouldContain("targetPort: 8080");
        found.Name.ShouldBe("Fix service ports");
        found.Description.ShouldBe("Route port 81 to container port 9090");
        found.Yaml.ShouldContain("targetPort: 9090");
    }

    [Fact]
    public async Task The_metallb_template_needs_metallb_and_a_cluster_not_on_a_cloud_provider()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);

        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "svc", "metallb-pool"))))
            .Message.ShouldBe("MetalLB is not installed in this cluster (no metallb-system namespace)");
        PutMetalLbNamespace();
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "svc", "metallb-pool"))))
            .Message.ShouldStartWith("The cluster runs on a cloud provider (aws)");
        foreach (var node in new[] { "worker-1", "worker-2" })
        {
            Api.Store.Update("v1", "Node", null, node, obj =>
            {
                obj["spec"]!["providerID"] = "kind://docker/kind/" + node;
                obj["status"]!["addresses"] = new JsonArray(new JsonObject { ["type"] = "InternalIP", ["address"] = "172.18.0.3" });
            });
        }

        var template = await Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "svc", "metallb-pool"));

        template.Name.ShouldBe("Configure MetalLB address pool");
        template.Description.ShouldBe("Let MetalLB hand out 172.18.0.100-172.18.0.110 on the nodes' network");
        template.Yaml.ShouldContain("kind: IPAddressPool");
        template.Yaml.ShouldContain("kind: L2Advertisement");
        template.Yaml.ShouldContain("172.18.0.100-172.18.0.110");
    }

    [Fact]
    public async Task Fix_templates_refuse_unknown_types_other_kinds_and_other_owners()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await WorkflowAsync(viewer);

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "svc", "magic"))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["fixType"]);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, string.Empty, "selector-fix")));
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "dep", "selector-fix")))).Message.ShouldBe("Fixes are only available for service nodes");
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetFixTemplate.Query(id, "nope", "selector-fix")))).Message.ShouldBe("Node not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new GetFixTemplate.Query(id, "svc", "selector-fix")));
    }

    [Fact]
    public async Task A_selector_fix_is_applied_to_the_nodes_service_and_audited()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await WorkflowAsync(developer);
        PutService(selector: """{"app":"wrong"}""");
        var template = await Fixture.SendAsAsync(developer, new GetFixTemplate.Query(id, "svc", "selector-fix"));

        var response = await Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, "svc", "selector-fix", template.Yaml, "auto"));

        response.Success.ShouldBeTrue();
        response.Message.ShouldBe("Fix applied successfully");
        response.FixType.ShouldBe("selector-fix");
        response.Mode.ShouldBe("auto");
        response.Result["applied_resources"]!.AsArray().Count.ShouldBe(1);
        response.Result["failed"]!.GetValue<bool>().ShouldBeFalse();
        Api.Store.Get("v1", "Service", "default", "api-svc")!["spec"]!["selector"]!.ToJsonString().ShouldBe("""{"app":"api"}""");
        Api.RequestsTo("PATCH", "/api/v1/namespaces/default/services/api-svc").ShouldHaveSingleItem().Query.ShouldContain("fieldManager=kubeorch-fix");
        var audit = (await Fixture.QueryAsync<(Guid ActorId, string Metadata)>(
            "SELECT actor_id, metadata::text FROM identity.audit_log WHERE action = 'delivery.workflow.fix' AND resource_id = @Id", new { Id = id.ToString() })).Single();
        audit.ActorId.ShouldBe(developer.Id);
        audit.Metadata.ShouldContain("\"fix_type\": \"selector-fix\"");
        audit.Metadata.ShouldContain("\"mode\": \"auto\"");
    }

    [Fact]
    public async Task A_fix_without_mode_is_manual()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await WorkflowAsync(developer);
        PutService(targetPort: "9999");
        const string Yaml = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api-svc\n  namespace: default\nspec:\n  ports:\n  - name: http\n    port: 80\n    targetPort: 8080\n";

        var response = await Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, "svc", "port-fix", Yaml, null));

        response.Mode.ShouldBe("manual");
        response.FixType.ShouldBe("port-fix");
        Api.RequestsTo("PATCH", "/api/v1/namespaces/default/services/api-svc").Count.ShouldBe(1);
    }

    [Theory]
    [InlineData("selector-fix", "apiVersion: v1\nkind: Secret\nmetadata:\n  name: other\n  namespace: kube-system\n")]
    [InlineData("selector-fix", "apiVersion: v1\nkind: Service\nmetadata:\n  name: other-svc\n  namespace: default\n")]
    [InlineData("port-fix", "apiVersion: v1\nkind: Service\nmetadata:\n  name: api-svc\n  namespace: kube-system\n")]
    [InlineData("metallb-pool", "apiVersion: v1\nkind: Service\nmetadata:\n  name: api-svc\n  namespace: default\n")]
    [InlineData("metallb-pool", "apiVersion: metallb.io/v1beta1\nkind: IPAddressPool\nmetadata:\n  name: pool\n  namespace: default\n")]
    [InlineData("selector-fix", "a: [")]
    [InlineData("selector-fix", "- just\n- a list\n")]
    public async Task A_fix_may_only_touch_what_it_is_about_and_nothing_reaches_the_cluster_otherwise(string fixType, string yaml)
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await WorkflowAsync(developer);

        var failure = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, "svc", fixType, yaml, "manual")));

        failure.Details!.Keys.ShouldBe(["yaml"]);
        Api.RequestsTo("PATCH", "/").ShouldBeEmpty();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.workflow.fix'")).ShouldBe(0);
    }

    [Fact]
    public async Task A_fix_validates_its_fields_and_refuses_other_kinds_and_other_owners()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var stranger = await Fixture.CreateUserAsync(BaseRole.Developer);
        var id = await WorkflowAsync(developer);
        const string Yaml = "apiVersion: v1\nkind: Service\nmetadata:\n  name: api-svc\n";

        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, "svc", "magic", Yaml, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["fixType"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, "svc", "selector-fix", null, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["yaml"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, "svc", "selector-fix", Yaml, "sometimes"))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["mode"]);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, string.Empty, "selector-fix", Yaml, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["nodeId"]);
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(developer, new ApplyNodeFix.Command(id, "dep", "selector-fix", Yaml, null)))).Message.ShouldBe("Fixes are only available for service nodes");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(stranger, new ApplyNodeFix.Command(id, "svc", "selector-fix", Yaml, null)));
        Api.RequestsTo("PATCH", "/").ShouldBeEmpty();
    }
}
