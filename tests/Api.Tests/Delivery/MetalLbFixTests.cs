using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Delivery;

/// <summary>The <c>metallb-pool</c> fix (reference §8b) on a bare-metal cluster where MetalLB is installed: the
/// diagnostics offer it, the template proposes a pool on the nodes' network, and applying it creates exactly the pool
/// and its advertisement in <c>metallb-system</c> and restarts MetalLB's controller.</summary>
public sealed class MetalLbFixTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private const string MetalLb = "metallb.io/v1beta1";

    private static readonly FakeResourceType IpAddressPools = new("metallb.io", "v1beta1", "ipaddresspools", "IPAddressPool", HasStatus: false, IsCustom: true);

    private static readonly FakeResourceType L2Advertisements = new("metallb.io", "v1beta1", "l2advertisements", "L2Advertisement", HasStatus: false, IsCustom: true);

    /// <summary>A workflow with a LoadBalancer service node, the Service in the cluster without an address, and the
    /// cluster's nodes replaced by one kind node on 172.18.0.0/24.</summary>
    private async Task<(HttpClient Client, Guid Id)> LoadBalancerServiceAsync()
    {
        await RegisterClusterAsync();
        Api.Store.RegisterType(new FakeResourceType(string.Empty, "v1", "endpoints", "Endpoints", HasStatus: false));
        Api.Store.Remove("v1", "Node", null, "worker-1");
        Api.Store.Remove("v1", "Node", null, "worker-2");
        Api.Store.Put(JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Node","metadata":{"name":"kind-control-plane"},"spec":{"providerID":"kind://docker/kind/kind-control-plane"},
             "status":{"addresses":[{"type":"Hostname","address":"kind-control-plane"},{"type":"InternalIP","address":"172.18.0.2"}]}}
            """)!.AsObject());
        Api.Store.Put(JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"web-lb","namespace":"default"},
             "spec":{"type":"LoadBalancer","selector":{"app":"web"},"ports":[{"port":80,"targetPort":8080}]},"status":{"loadBalancer":{}}}
            """)!.AsObject());
        var (client, _) = await DeveloperAsync();
        var nodes = new JsonArray(
            Node("svc", "service", new { name = "web-lb", serviceType = "LoadBalancer", targetApp = "web", port = 80, targetPort = 8080 }),
            Node("dep", "deployment", new { name = "web", image = "web:1", port = 8080 }));
        return (client, await CreateWorkflowAsync(client, nodes: nodes));
    }

    /// <summary>MetalLB as its manifests install it: the namespace, the CRDs of its pools and advertisements, and the
    /// controller Deployment.</summary>
    private void InstallMetalLb()
    {
        Api.Store.RegisterType(IpAddressPools);
        Api.Store.RegisterType(L2Advertisements);
        Api.Store.Put(JsonNode.Parse("""{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"metallb-system"}}""")!.AsObject());
        Api.Store.Put(JsonNode.Parse("""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"controller","namespace":"metallb-system","labels":{"app":"metallb"}},
             "spec":{"replicas":1,"selector":{"matchLabels":{"app":"metallb","component":"controller"}},
                     "template":{"metadata":{"labels":{"app":"metallb","component":"controller"}},
                                 "spec":{"containers":[{"name":"controller","image":"quay.io/metallb/controller:v0.14.8"}]}}}}
            """)!.AsObject());
    }

    private static JsonObject LoadBalancerCheck(System.Text.Json.JsonElement diagnostics) =>
        JsonNode.Parse(diagnostics.GetProperty("checks").EnumerateArray().Single(check => check.GetProperty("name").GetString() == "loadbalancer-provisioned").GetRawText())!.AsObject();

    [Fact]
    public async Task With_MetalLB_installed_the_diagnostics_offer_the_pool_fix_and_applying_it_creates_the_pool_and_restarts_the_controller()
    {
        var (client, id) = await LoadBalancerServiceAsync();
        InstallMetalLb();

        // The diagnostics: no address yet, MetalLB present → auto-fixable with metallb-pool.
        var diagnostics = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/diagnostics")).ShouldBeJsonAsync();
        LoadBalancerCheck(diagnostics).ToJsonString().ShouldBe(
            """{"name":"loadbalancer-provisioned","status":"warning","message":"MetalLB is installed but assigned no address","suggestion":"Give MetalLB an address pool","autoFixable":true,"fixType":"metallb-pool"}""");

        // The template: a pool of .100-.110 on the node's /24 and its L2 advertisement.
        var template = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/metallb-pool")).ShouldBeJsonAsync();
        template.GetProperty("name").GetString().ShouldBe("Configure MetalLB address pool");
        template.GetProperty("description").GetString().ShouldBe("Let MetalLB hand out 172.18.0.100-172.18.0.110 on the nodes' network");
        template.GetProperty("applyMethod").GetString().ShouldBe("kubectl-apply");
        template.GetProperty("fixType").GetString().ShouldBe("metallb-pool");
        var proposed = YamlJson.ParseAll(template.GetProperty("yaml").GetString()!).Select(document => document!.ToJsonString()).ToList();
        proposed.ShouldBe(
        [
            """{"apiVersion":"metallb.io/v1beta1","kind":"IPAddressPool","metadata":{"name":"kubeorch-pool","namespace":"metallb-system"},"spec":{"addresses":["172.18.0.100-172.18.0.110"]}}""",
            """{"apiVersion":"metallb.io/v1beta1","kind":"L2Advertisement","metadata":{"name":"kubeorch-l2","namespace":"metallb-system"},"spec":{"ipAddressPools":["kubeorch-pool"]}}""",
        ]);
        Api.RequestsTo("PATCH", "/").ShouldBeEmpty("a template only reads the cluster");

        // Apply it as proposed.
        var before = DateTime.UtcNow;
        var fix = await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "metallb-pool", yaml = template.GetProperty("yaml").GetString(), mode = "auto" })).ShouldBeJsonAsync();
        var after = DateTime.UtcNow;

        fix.PropertyNames().ShouldBe(["success", "message", "result", "fixType", "mode"]);
        (fix.GetProperty("success").GetBoolean(), fix.GetProperty("message").GetString(), fix.GetProperty("fixType").GetString(), fix.GetProperty("mode").GetString())
            .ShouldBe((true, "Fix applied successfully", "metallb-pool", "auto"));
        fix.GetProperty("result").GetProperty("applied_resources").EnumerateArray()
            .Select(item => $"{item.GetProperty("kind").GetString()} {item.GetProperty("namespace").GetString()}/{item.GetProperty("name").GetString()} {item.GetProperty("operation").GetString()}")
            .ShouldBe(["IPAddressPool metallb-system/kubeorch-pool created", "L2Advertisement metallb-system/kubeorch-l2 created"]);

        // Exactly the pool and the advertisement are in the cluster, applied by the fix's field manager.
        var pools = Api.Store.All(MetalLb, "IPAddressPool");
        pools.Select(pool => $"{pool["metadata"]!["namespace"]}/{pool["metadata"]!["name"]}").ShouldBe(["metallb-system/kubeorch-pool"]);
        pools[0]["spec"]!.ToJsonString().ShouldBe("""{"addresses":["172.18.0.100-172.18.0.110"]}""");
        var advertisements = Api.Store.All(MetalLb, "L2Advertisement");
        advertisements.Select(item => $"{item["metadata"]!["namespace"]}/{item["metadata"]!["name"]}").ShouldBe(["metallb-system/kubeorch-l2"]);
        advertisements[0]["spec"]!.ToJsonString().ShouldBe("""{"ipAddressPools":["kubeorch-pool"]}""");
        var applies = Api.Requests.Where(request => request.Method == "PATCH" && request.ContentType == KubernetesPatch.ApplyPatchType).ToList();
        applies.Select(request => request.Path).ShouldBe(
        [
            "/apis/metallb.io/v1beta1/namespaces/metallb-system/ipaddresspools/kubeorch-pool",
            "/apis/metallb.io/v1beta1/namespaces/metallb-system/l2advertisements/kubeorch-l2",
        ]);
        applies.ShouldAllBe(request => request.Query.Contains("fieldManager=kubeorch-fix"));

        // The controller was restarted (its pod template annotated with the time), the rest of it left as it was.
        var restarts = Api.RequestsTo("PATCH", "/apis/apps/v1/namespaces/metallb-system/deployments/controller");
        restarts.Count.ShouldBe(1);
        restarts[0].ContentType!.ShouldStartWith(KubernetesPatch.MergePatchType);
        var controller = Api.Store.Get("apps/v1", "Deployment", "metallb-system", "controller")!;
        var restartedAt = DateTime.Parse(controller["spec"]!["template"]!["metadata"]!["annotations"]!["kubectl.kubernetes.io/restartedAt"]!.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
        restartedAt.ShouldBeInRange(before, after);
        controller["spec"]!["template"]!["spec"]!["containers"]![0]!["image"]!.ToString().ShouldBe("quay.io/metallb/controller:v0.14.8");
        controller["spec"]!["template"]!["metadata"]!["labels"]!.ToJsonString().ShouldBe("""{"app":"metallb","component":"controller"}""");
        Api.RequestsTo("PATCH", "/api/v1/").ShouldBeEmpty("the fix touched nothing but MetalLB");

        // Once MetalLB hands out an address, the check passes.
        Api.Store.Update("v1", "Service", "default", "web-lb", service => service["status"] = JsonNode.Parse("""{"loadBalancer":{"ingress":[{"ip":"172.18.0.100"}]}}"""));
        var healed = await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/diagnostics")).ShouldBeJsonAsync();
        var check = LoadBalancerCheck(healed);
        (check["status"]!.ToString(), check["message"]!.ToString(), check["autoFixable"]!.GetValue<bool>()).ShouldBe(("pass", "Load balancer address: 172.18.0.100", false));
    }

    [Fact]
    public async Task Applying_the_pool_fix_again_leaves_one_pool_and_restarts_the_controller_again()
    {
        var (client, id) = await LoadBalancerServiceAsync();
        InstallMetalLb();
        var yaml = (await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/metallb-pool")).ShouldBeJsonAsync()).GetProperty("yaml").GetString();

        await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "metallb-pool", yaml })).ShouldBeJsonAsync();
        var again = await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "metallb-pool", yaml })).ShouldBeJsonAsync();

        again.GetProperty("mode").GetString().ShouldBe("manual");
        again.GetProperty("result").GetProperty("applied_resources").EnumerateArray().Select(item => item.GetProperty("operation").GetString()).ShouldBe(["unchanged", "unchanged"]);
        Api.Store.All(MetalLb, "IPAddressPool").Count.ShouldBe(1);
        Api.Store.All(MetalLb, "L2Advertisement").Count.ShouldBe(1);
        Api.RequestsTo("PATCH", "/apis/apps/v1/namespaces/metallb-system/deployments/controller").Count.ShouldBe(2);
    }

    [Fact]
    public async Task The_pool_fix_refuses_a_cloud_cluster_and_objects_outside_MetalLB_and_changes_nothing()
    {
        var (client, id) = await LoadBalancerServiceAsync();
        InstallMetalLb();
        var yaml = (await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/metallb-pool")).ShouldBeJsonAsync()).GetProperty("yaml").GetString()!;

        // Anything but a MetalLB pool or advertisement in metallb-system is refused before anything is applied.
        foreach (var refused in new[]
        {
            yaml + "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: config\n  namespace: metallb-system\n",
            yaml.Replace("namespace: metallb-system", "namespace: default", StringComparison.Ordinal),
            "apiVersion: metallb.io/v1beta1\nkind: BGPPeer\nmetadata:\n  name: peer\n  namespace: metallb-system\n",
        })
        {
            (await (await client.PostAsJsonAsync($"/v1/api/workflows/{id}/nodes/svc/fix", new { fixType = "metallb-pool", yaml = refused })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
                .GetProperty("details").GetProperty("yaml")[0].GetString().ShouldBe("A metallb-pool fix may only create MetalLB IPAddressPools and L2Advertisements in metallb-system");
        }

        Api.RequestsTo("PATCH", "/").ShouldBeEmpty();
        Api.Store.All(MetalLb, "IPAddressPool").ShouldBeEmpty();

        // On a cloud provider's nodes the load balancers come from the provider: no template.
        Api.Store.Put(JsonNode.Parse("""{"apiVersion":"v1","kind":"Node","metadata":{"name":"worker-1"},"spec":{"providerID":"aws:///eu-west-1a/i-0a1b2c3d4e5f67890"}}""")!.AsObject());
        (await (await client.GetAsync($"/v1/api/workflows/{id}/nodes/svc/fix-template/metallb-pool")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("The cluster runs on a cloud provider (aws): its load balancers come from the provider, not MetalLB");
    }
}
