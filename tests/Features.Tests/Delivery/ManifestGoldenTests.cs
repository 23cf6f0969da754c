using System.Runtime.CompilerServices;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Features.Tests.Delivery;

/// <summary>
/// Golden files for the renderer: every <c>Golden/*.json</c> (nodes, edges, run values) renders to exactly its
/// <c>.yaml</c>. Set <c>UPDATE_GOLDEN=1</c> to rewrite them after a deliberate change (then review the diff). There is a
/// case for every node type, and the reference's worked examples (§18) are also pinned field by field below.
/// </summary>
public sealed class ManifestGoldenTests
{
    public static readonly Guid WorkflowId = Guid.Parse("0197d2c4-0000-7000-8000-000000000001");

    public static IReadOnlyList<PluginNodeType> Plugins { get; } =
    [
        new("kubevirt", "kubevirt-virtualmachine", "KubeVirt VirtualMachine", "kubevirt.io/v1", "VirtualMachine",
        [
            new("name", true, null),
            new("namespace", false, JsonValue.Create("default")),
            new("running", false, JsonValue.Create(true)),
            new("cpuCores", false, JsonValue.Create(1)),
            new("memory", false, JsonValue.Create("2Gi")),
            new("image", false, JsonValue.Create("quay.io/containerdisks/fedora:latest")),
        ]),
    ];

    public static TheoryData<string> Cases
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var file in Directory.GetFiles(GoldenDirectory(), "*.json").Order(StringComparer.Ordinal))
            {
                data.Add(Path.GetFileNameWithoutExtension(file));
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Renders_as_the_golden_file(string name)
    {
        var rendered = Render(name);
        var path = Path.Combine(GoldenDirectory(), name + ".yaml");
        if (Environment.GetEnvironmentVariable("UPDATE_GOLDEN") == "1")
        {
            File.WriteAllText(path, rendered);
        }

        File.Exists(path).ShouldBeTrue($"{name}.yaml is missing (UPDATE_GOLDEN=1 writes it)");

        rendered.ShouldBe(File.ReadAllText(path), $"{name}.yaml differs (UPDATE_GOLDEN=1 rewrites it)");
    }

    [Fact]
    public void Every_node_type_has_a_golden_case()
    {
        var covered = new HashSet<string>();
        foreach (var file in Directory.GetFiles(GoldenDirectory(), "*.json"))
        {
            var name = Path.GetFileNameWithoutExtension(file);
            var (graph, context, _) = Load(name);
            foreach (var node in graph.Nodes)
            {
                covered.Add(ManifestRenderer.KindOf(node, context.PluginTypes)!);
            }
        }

        string[] expected = [.. ManifestRenderer.CoreTypes, ManifestRenderer.Plugin];
        expected.Except(covered).ShouldBeEmpty("every node type needs a golden case");
    }

    [Fact]
    public void The_reference_deployment_example_renders_as_section_18_shows()
    {
        var manifest = Manifests("deployment").Single();
        manifest["apiVersion"]!.ToString().ShouldBe("apps/v1");
        manifest["kind"]!.ToString().ShouldBe("Deployment");
        manifest["metadata"]!["name"]!.ToString().ShouldBe("web");
        manifest["metadata"]!["namespace"]!.ToString().ShouldBe("default");
        var labels = (JsonObject)manifest["metadata"]!["labels"]!;
        labels["app"]!.ToString().ShouldBe("web");
        labels["version"]!.ToString().ShouldBe("v1");
        labels["managed-by"]!.ToString().ShouldBe("kubeorch");
        manifest["spec"]!["replicas"]!.GetValue<long>().ShouldBe(2);
        manifest["spec"]!["selector"]!["matchLabels"]!.ToJsonString().ShouldBe("""{"app":"web"}""");
        manifest["spec"]!["template"]!["metadata"]!["labels"]!.ToJsonString().ShouldBe("""{"app":"web","version":"v1"}""");
        var container = manifest["spec"]!["template"]!["spec"]!["containers"]![0]!;
        container["name"]!.ToString().ShouldBe("web");
        container["image"]!.ToString().ShouldBe("nginx:1.25");
        container["ports"]!.ToJsonString().ShouldBe("""[{"containerPort":80,"protocol":"TCP","name":"http"}]""");
    }

    [Fact]
    public void The_reference_service_ingress_and_secret_examples_render_as_section_18_shows()
    {
        var service = Manifests("service").Single();
        service["kind"]!.ToString().ShouldBe("Service");
        service["spec"]!["type"]!.ToString().ShouldBe("NodePort");
        service["spec"]!["selector"]!.ToJsonString().ShouldBe("""{"app":"web"}""");
        service["spec"]!["ports"]!.ToJsonString().ShouldBe("""[{"name":"http","protocol":"TCP","port":80,"targetPort":80}]""");
        service["metadata"]!["labels"]!["app"]!.ToString().ShouldBe("web-svc");
        service["metadata"]!["labels"]!["managed-by"]!.ToString().ShouldBe("kubeorch");

        var ingress = Manifests("ingress").Single();
        var rule = ingress["spec"]!["rules"]![0]!;
        rule["host"]!.ToString().ShouldBe("app.example.com");
        ingress["spec"]!["ingressClassName"]!.ToString().ShouldBe("nginx");
        rule["http"]!["paths"]![0]!["backend"]!["service"]!.ToJsonString().ShouldBe("""{"name":"web-svc","port":{"number":80}}""");

        var secret = Manifests("secret").Single();
        secret["kind"]!.ToString().ShouldBe("Secret");
        secret["type"]!.ToString().ShouldBe("Opaque");
        secret["data"]!.ToJsonString().ShouldBe("""{"PASSWORD":"czNjcjN0"}""");
    }

    [Fact]
    public void A_secret_without_values_renders_nothing_and_says_why()
    {
        var (graph, context, _) = Load("secret-without-values");
        var rendered = ManifestRenderer.Render(graph, graph.Nodes[0], context);
        rendered.Manifests.ShouldBeEmpty();
        rendered.SkipReason.ShouldBe("no values provided");
    }

    [Fact]
    public void Edges_fill_what_linked_nodes_leave_empty()
    {
        var service = Manifests("service-linked").Single();
        service["metadata"]!["namespace"]!.ToString().ShouldBe("shop");
        service["spec"]!["selector"]!.ToJsonString().ShouldBe("""{"app":"api-server"}""");
        service["spec"]!["ports"]![0]!["targetPort"]!.GetValue<long>().ShouldBe(8443);

        var hpa = Manifests("hpa").Single();
        hpa["spec"]!["scaleTargetRef"]!.ToJsonString().ShouldBe("""{"apiVersion":"apps/v1","kind":"Deployment","name":"web"}""");

        var policy = Manifests("networkpolicy").Single();
        policy["spec"]!["podSelector"]!.ToJsonString().ShouldBe("""{"matchLabels":{"app":"api"}}""");

        var deployment = Manifests("deployment-linked").Single();
        var volumes = deployment["spec"]!["template"]!["spec"]!["volumes"]!.ToJsonString();
        volumes.ShouldContain("\"configMap\":{\"name\":\"api-config\"}");
        volumes.ShouldContain("\"secret\":{\"secretName\":\"api-secrets\"}");
        volumes.ShouldContain("\"persistentVolumeClaim\":{\"claimName\":\"api-data\"}");
        deployment["spec"]!["template"]!["spec"]!["imagePullSecrets"]!.ToJsonString().ShouldBe("""[{"name":"existing-pull"},{"name":"kubeorch-registry-private"}]""");
    }

    [Fact]
    public void Wrong_case_keys_and_unprefixed_template_ids_render()
    {
        var job = Manifests("job").Single();
        var container = job["spec"]!["template"]!["spec"]!["containers"]![0]!;
        container["resources"]!.ToJsonString().ShouldBe("""{"requests":{"cpu":"100m","memory":"64Mi"}}""");
        container["volumeMounts"]!.ToJsonString().ShouldBe("""[{"name":"migrate-config-volume","mountPath":"/config","readOnly":true}]""");

        var worker = Manifests("imported-template-id").Single();
        worker["kind"]!.ToString().ShouldBe("Deployment");
        worker["spec"]!["template"]!["spec"]!["containers"]![0]!["envFrom"]!.ToJsonString().ShouldBe("""[{"configMapRef":{"name":"worker-config"}}]""");
        worker["spec"]!["template"]!["spec"]!["volumes"].ShouldBeNull("a ConfigMap read as env is not mounted too");
    }

    private static IReadOnlyList<JsonObject> Manifests(string name)
    {
        var (graph, context, render) = Load(name);
        return [.. graph.Nodes.Where(node => render.Contains(node.Id)).SelectMany(node => ManifestRenderer.Render(graph, node, context).Manifests)];
    }

    private static string Render(string name)
    {
        var (graph, context, render) = Load(name);
        ManifestRenderer.Validate(graph, context).ShouldBeEmpty($"{name} should be a valid workflow");
        var documents = new List<string>();
        foreach (var node in graph.Nodes.Where(node => render.Contains(node.Id)))
        {
            var rendered = ManifestRenderer.Render(graph, node, context);
            documents.AddRange(rendered.SkipReason is { } reason ? [$"# {node.Id}: nothing rendered ({reason})\n"] : rendered.Manifests.Select(YamlJson.Serialize));
        }

        return string.Join("---\n", documents);
    }

    internal static (WorkflowGraph Graph, RenderContext Context, HashSet<string> Render) Load(string name)
    {
        var input = JsonNode.Parse(File.ReadAllText(Path.Combine(GoldenDirectory(), name + ".json")))!.AsObject();
        var graph = WorkflowGraph.Parse(input["nodes"]!.AsArray(), input["edges"]?.AsArray() ?? []);
        var pullSecrets = (input["pullSecrets"] as JsonObject ?? []).ToDictionary(pair => pair.Key, pair => pair.Value!.ToString());
        var context = new RenderContext
        {
            WorkflowId = WorkflowId,
            Secrets = Values(input["secrets"]),
            EnvVars = Values(input["envVars"]),
            PluginTypes = input["plugins"]?.GetValue<bool>() == true ? Plugins : [],
            PullSecretFor = image => pullSecrets.GetValueOrDefault(image),
        };
        var render = input["render"] is JsonArray only ? only.Select(id => id!.ToString()).ToHashSet() : graph.Nodes.Select(node => node.Id).ToHashSet();
        return (graph, context, render);
    }

    private static Dictionary<string, IReadOnlyDictionary<string, string>> Values(JsonNode? node) =>
        (node as JsonObject ?? []).ToDictionary(
            pair => pair.Key,
            pair => (IReadOnlyDictionary<string, string>)pair.Value!.AsObject().ToDictionary(value => value.Key, value => value.Value!.ToString()));

    private static string GoldenDirectory([CallerFilePath] string file = "") => Path.Combine(Path.GetDirectoryName(file)!, "Golden");
}
