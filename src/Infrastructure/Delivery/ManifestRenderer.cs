using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>A plugin's node type as a node renders it: the custom resource's apiVersion and kind, and its fields.</summary>
public sealed record PluginNodeType(string PluginId, string Name, string DisplayName, string ApiVersion, string Kind, IReadOnlyList<PluginField> Fields);

public sealed record PluginField(string Id, bool Required, JsonNode? Default);

/// <summary>What a render needs beyond the graph: the workflow (for the tracking label), the values sent with the
/// run (secrets and env vars per node id, never stored), the caller's enabled plugin node types, and the image-pull
/// secret to use for an image (null: none).</summary>
public sealed record RenderContext
{
    public static readonly RenderContext Empty = new();

    public Guid? WorkflowId { get; init; }

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> Secrets { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, string>>();

    public IReadOnlyDictionary<string, IReadOnlyDictionary<string, string>> EnvVars { get; init; } = new Dictionary<string, IReadOnlyDictionary<string, string>>();

    public IReadOnlyList<PluginNodeType> PluginTypes { get; init; } = [];

    public Func<string, string?> PullSecretFor { get; init; } = _ => null;
}

/// <summary>One node rendered: its kind, target name and namespace, the manifests to apply in order, or why nothing
/// is applied (a secret without values).</summary>
public sealed record RenderedNode(WorkflowNode Node, string NodeKind, string Name, string Namespace, IReadOnlyList<JsonObject> Manifests, string? SkipReason = null);

/// <summary>
/// Renders workflow nodes to Kubernetes manifests (reference <c>kubeorch.md</c> §7 and §18): one node type per kind,
/// labels <c>app</c> and <c>managed-by: kubeorch</c> on everything, image-pull secrets for images of configured
/// registries, and the links an edge implies (a service selects the workload it is wired to, a workload mounts the
/// ConfigMaps, Secrets and PVCs wired to it, an ingress routes to its service, an HPA scales and a NetworkPolicy
/// selects their workload). Rendering is pure and deterministic; <see cref="Validate"/> runs first.
/// </summary>
public static partial class ManifestRenderer
{
    public const string ManagedBy = "kubeorch";
    public const string WorkflowLabel = "kubeorch.io/workflow";
    public const string NodeAnnotation = "kubeorch.io/node-id";

    public const string Deployment = "deployment";
    public const string Service = "service";
    public const string Ingress = "ingress";
    public const string ConfigMap = "configmap";
    public const string Secret = "secret";
    public const string Pvc = "persistentvolumeclaim";
    public const string StatefulSet = "statefulset";
    public const string Job = "job";
    public const string CronJob = "cronjob";
    public const string DaemonSet = "daemonset";
    public const string Hpa = "hpa";
    public const string NetworkPolicy = "networkpolicy";
    public const string Plugin = "plugin";

    public static IReadOnlyList<string> CoreTypes { get; } =
        [Deployment, Service, Ingress, ConfigMap, Secret, Pvc, StatefulSet, Job, CronJob, DaemonSet, Hpa, NetworkPolicy];

    public static IReadOnlySet<string> Workloads { get; } = new HashSet<string>(StringComparer.Ordinal) { Deployment, StatefulSet, DaemonSet, Job, CronJob };

    private static readonly Dictionary<string, string> Aliases = new(StringComparer.OrdinalIgnoreCase)
    {
        ["pvc"] = Pvc,
        ["persistentVolumeClaim"] = Pvc,
        ["horizontalpodautoscaler"] = Hpa,
        ["configMap"] = ConfigMap,
        ["statefulSet"] = StatefulSet,
        ["daemonSet"] = DaemonSet,
        ["cronJob"] = CronJob,
        ["networkPolicy"] = NetworkPolicy,
    };

    /// <summary>
    /// The node's kind: its core type (case-insensitive, aliases such as <c>pvc</c>), else its <c>templateId</c>
    /// normalised to <c>core/&lt;type&gt;</c> (imported nodes carried <c>deployment</c> without the prefix, which the
    /// upstream could not find), else <c>plugin</c> when it names a plugin node type; null when unknown.
    /// </summary>
    public static string? KindOf(WorkflowNode node, IReadOnlyList<PluginNodeType> plugins)
    {
        if (Core(node.Type) is { } core)
        {
            return core;
        }

        if (NormalizeTemplateId(node.Data.Str("templateId")) is { } templateId && templateId.StartsWith("core/", StringComparison.Ordinal) && Core(templateId[5..]) is { } fromTemplate)
        {
            return fromTemplate;
        }

        return PluginTypeOf(node, plugins) is not null ? Plugin : null;
    }

    /// <summary><c>deployment</c> → <c>core/deployment</c>; ids with a slash, and plugin node type names, stay.</summary>
    public static string? NormalizeTemplateId(string? templateId)
    {
        if (string.IsNullOrWhiteSpace(templateId))
        {
            return null;
        }

        var id = templateId.Trim();
        return !id.Contains('/', StringComparison.Ordinal) && Core(id) is { } core ? "core/" + core : id;
    }

    public static PluginNodeType? PluginTypeOf(WorkflowNode node, IReadOnlyList<PluginNodeType> plugins)
    {
        var pluginId = node.Data.Str("pluginId");
        var typeName = string.Equals(node.Type, Plugin, StringComparison.OrdinalIgnoreCase) ? node.Data.Str("templateId") ?? node.Data.Str("nodeType") : node.Type;
        return plugins.FirstOrDefault(type =>
            string.Equals(type.Name, typeName, StringComparison.OrdinalIgnoreCase) && (pluginId is null || string.Equals(type.PluginId, pluginId, StringComparison.OrdinalIgnoreCase)));
    }

    private static string? Core(string type)
    {
        var trimmed = type.Trim();
        if (Aliases.TryGetValue(trimmed, out var alias))
        {
            return alias;
        }

        var lower = trimmed.ToLowerInvariant();
        return CoreTypes.Contains(lower) ? lower : null;
    }

    /// <summary>Renders one node of <paramref name="graph"/>.</summary>
    public static RenderedNode Render(WorkflowGraph graph, WorkflowNode node, RenderContext context)
    {
        var kind = KindOf(node, context.PluginTypes) ?? throw new InvalidOperationException($"Node '{node.Id}' has unknown type '{node.Type}'");
        var data = Effective(graph, node, kind);
        var name = NameOf(node, data);
        var ns = data.StrOr("namespace", "default");
        var target = new Target(node, data, name, ns, context);
        return kind switch
        {
            Deployment => Rendered(target, kind, RenderDeployment(target)),
            StatefulSet => Rendered(target, kind, RenderStatefulSet(target)),
            DaemonSet => Rendered(target, kind, RenderDaemonSet(target)),
            Job => Rendered(target, kind, RenderJob(target)),
            CronJob => Rendered(target, kind, RenderCronJob(target)),
            Service => Rendered(target, kind, RenderService(target)),
            Ingress => Rendered(target, kind, RenderIngress(target)),
            ConfigMap => Rendered(target, kind, RenderConfigMap(target)),
            Secret => RenderSecret(target),
            Pvc => Rendered(target, kind, RenderPvc(target)),
            Hpa => Rendered(target, kind, RenderHpa(target)),
            NetworkPolicy => Rendered(target, kind, RenderNetworkPolicy(target)),
            Plugin => Rendered(target, kind, RenderPlugin(target, PluginTypeOf(node, context.PluginTypes)!)),
            _ => throw new InvalidOperationException($"Node '{node.Id}' has unknown type '{node.Type}'"),
        };
    }

    /// <summary>Every node, in drawing order (execution order is the caller's business).</summary>
    public static IReadOnlyList<RenderedNode> RenderAll(WorkflowGraph graph, RenderContext context) =>
        [.. graph.Nodes.Select(node => Render(graph, node, context))];

    private static RenderedNode Rendered(Target target, string kind, JsonObject manifest) =>
        new(target.Node, kind, target.Name, target.Namespace, [manifest]);

    /// <summary>The object name a node renders to: <c>data.name</c>, else the node id.</summary>
    public static string NameOf(WorkflowNode node, NodeData data) => data.Str("name") ?? node.Id;

    private sealed record Target(WorkflowNode Node, NodeData Data, string Name, string Namespace, RenderContext Context);

    private static JsonObject Manifest(string apiVersion, string kind, Target target, JsonObject labels)
    {
        var metadata = new JsonObject
        {
            ["name"] = target.Name,
            ["namespace"] = target.Namespace,
            ["labels"] = labels,
        };
        var annotations = Pairs(target.Data.Map("annotations"));
        annotations[NodeAnnotation] = target.Node.Id;
        metadata["annotations"] = annotations;
        return new JsonObject { ["apiVersion"] = apiVersion, ["kind"] = kind, ["metadata"] = metadata };
    }

    /// <summary><c>app</c>, then <c>version: v1</c> for Deployments and StatefulSets, <c>managed-by</c>, the workflow,
    /// then the node's own labels (which never replace those).</summary>
    private static JsonObject Labels(Target target, bool withVersion = false, IEnumerable<KeyValuePair<string, string>>? extra = null)
    {
        var labels = new JsonObject { ["app"] = target.Name };
        if (withVersion)
        {
            labels["version"] = "v1";
        }

        labels["managed-by"] = ManagedBy;
        if (target.Context.WorkflowId is { } workflowId)
        {
            labels[WorkflowLabel] = workflowId.ToString();
        }

        foreach (var (key, value) in (extra ?? []).Concat(target.Data.Map("labels")))
        {
            if (!labels.ContainsKey(key))
            {
                labels[key] = value;
            }
        }

        return labels;
    }

    private static JsonObject Pairs(IEnumerable<KeyValuePair<string, string>> pairs)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in pairs)
        {
            obj[key] = value;
        }

        return obj;
    }

    private static JsonArray Array(IEnumerable<JsonNode?> items) => new([.. items]);

    private static JsonArray Strings(IEnumerable<string> items) => new([.. items.Select(item => (JsonNode)JsonValue.Create(item))]);

    private static void SetIf(JsonObject target, string key, long? value)
    {
        if (value is { } number)
        {
            target[key] = number;
        }
    }

    private static void SetIf(JsonObject target, string key, string? value)
    {
        if (!string.IsNullOrEmpty(value))
        {
            target[key] = value;
        }
    }

    private static void SetIf(JsonObject target, string key, JsonNode? value)
    {
        if (value is JsonObject { Count: > 0 } or JsonArray { Count: > 0 })
        {
            target[key] = value;
        }
    }
}
