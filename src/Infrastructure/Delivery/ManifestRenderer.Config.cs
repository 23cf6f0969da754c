using System.Text;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

public static partial class ManifestRenderer
{
    /// <summary>Placeholder keys the canvas adds while a key is being typed (<c>_new_1712…</c>); never rendered.</summary>
    public static bool IsPlaceholderKey(string key) => key.StartsWith("_new_", StringComparison.Ordinal);

    private static JsonObject RenderConfigMap(Target target)
    {
        var manifest = Manifest("v1", "ConfigMap", target, Labels(target));
        manifest["data"] = Pairs(target.Data.Map("data").Where(pair => !IsPlaceholderKey(pair.Key)));
        return manifest;
    }

    /// <summary>A Secret from the values sent with the run for this node (never stored), base64-encoded; without
    /// values nothing is rendered and the run checks whether the Secret already exists.</summary>
    private static RenderedNode RenderSecret(Target target)
    {
        var values = target.Context.Secrets.TryGetValue(target.Node.Id, out var provided)
            ? provided.Where(pair => !IsPlaceholderKey(pair.Key) && pair.Key.Trim().Length > 0).ToList()
            : [];
        if (values.Count == 0)
        {
            return new RenderedNode(target.Node, Secret, target.Name, target.Namespace, [], "no values provided");
        }

        var manifest = Manifest("v1", "Secret", target, Labels(target));
        manifest["type"] = target.Data.StrOr("secretType", "Opaque");
        manifest["data"] = Pairs(values.Select(pair => new KeyValuePair<string, string>(pair.Key.Trim(), Convert.ToBase64String(Encoding.UTF8.GetBytes(pair.Value)))));
        return new RenderedNode(target.Node, Secret, target.Name, target.Namespace, [manifest]);
    }

    /// <summary>The key names a secret node declares (<c>keys[{id,name}]</c>, or plain strings).</summary>
    public static List<string> SecretKeyNames(NodeData data) =>
        [.. (data.Arr("keys") ?? [])
            .Select(item => item is JsonObject obj ? NodeData.Text(NodeData.Find(obj, "name")) : NodeData.Text(item))
            .OfType<string>()
            .Where(name => !IsPlaceholderKey(name))];

    private static JsonObject RenderPvc(Target target)
    {
        var data = target.Data;
        var manifest = Manifest("v1", "PersistentVolumeClaim", target, Labels(target));
        var spec = new JsonObject
        {
            ["accessModes"] = Strings(data.Strings("accessModes") is { Count: > 0 } modes ? modes : ["ReadWriteOnce"]),
            ["resources"] = new JsonObject { ["requests"] = new JsonObject { ["storage"] = data.Str("storage") } },
        };
        SetIf(spec, "storageClassName", data.Str("storageClassName"));
        SetIf(spec, "volumeMode", data.Str("volumeMode"));
        manifest["spec"] = spec;
        return manifest;
    }

    /// <summary>A plugin node: the plugin's custom resource (<c>apiVersion</c>/<c>kind</c> of its node type) with every
    /// field but name and namespace in <c>spec</c>, from the node's data or the field's default.</summary>
    private static JsonObject RenderPlugin(Target target, PluginNodeType type)
    {
        var labels = Labels(target, extra:
        [
            new("app.kubernetes.io/managed-by", ManagedBy),
            new("kubeorch.io/plugin", type.PluginId),
            new("kubeorch.io/node-type", type.Name),
        ]);
        var manifest = Manifest(type.ApiVersion, type.Kind, target, labels);
        var spec = new JsonObject();
        foreach (var field in type.Fields.Where(field => field.Id is not "name" and not "namespace"))
        {
            var value = target.Data[field.Id];
            if (value is null || (NodeData.Text(value) is null && value is JsonValue))
            {
                value = field.Default;
            }

            if (value is not null)
            {
                spec[field.Id] = value.DeepClone();
            }
        }

        manifest["spec"] = spec;
        return manifest;
    }
}
