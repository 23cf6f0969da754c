using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

public static partial class ManifestRenderer
{
    /// <summary>
    /// The node's data with what its edges imply filled in where the node leaves it empty (the canvas fills most of it
    /// on connect; this covers graphs drawn by hand, imports and either edge direction):
    /// a service gets its workload's name as <c>targetApp</c>, its port as <c>targetPort</c> and its namespace; an
    /// ingress path gets its service's name and port; an HPA its target; a NetworkPolicy selects its workload's pods;
    /// a workload mounts the ConfigMaps, Secrets and PVCs wired to it.
    /// </summary>
    public static NodeData Effective(WorkflowGraph graph, WorkflowNode node, string kind)
    {
        var data = (JsonObject)node.DataObject.DeepClone();
        var effective = new NodeData(data);
        var neighbours = graph.Neighbours(node.Id).ToList();
        WorkflowNode? Linked(params string[] kinds) => neighbours.FirstOrDefault(other => Core(other.Type) is { } k && kinds.Contains(k));
        string LinkedName(WorkflowNode other) => NameOf(other, other.Data);

        switch (kind)
        {
            case Service:
                if (Linked(Deployment, StatefulSet, DaemonSet) is { } workload)
                {
                    if (!effective.Has("targetApp") && effective.Obj("selector") is not { Count: > 0 })
                    {
                        data["targetApp"] = LinkedName(workload);
                    }

                    if (!effective.Has("targetPort") && workload.Data.Long("port") is > 0 and var port)
                    {
                        data["targetPort"] = port;
                    }

                    InheritNamespace(data, effective, workload);
                }

                break;
            case Ingress:
                if (Linked(Service) is { } service)
                {
                    var serviceName = LinkedName(service);
                    var servicePort = service.Data.Long("port") ?? 80;
                    if (effective.Arr("paths") is { Count: > 0 } paths)
                    {
                        foreach (var path in paths.OfType<JsonObject>())
                        {
                            var entry = new NodeData(path);
                            if (!entry.Has("serviceName"))
                            {
                                path["serviceName"] = serviceName;
                            }

                            if (!entry.Has("servicePort"))
                            {
                                path["servicePort"] = servicePort;
                            }
                        }
                    }
                    else
                    {
                        if (!effective.Has("serviceName"))
                        {
                            data["serviceName"] = serviceName;
                        }

                        if (!effective.Has("servicePort"))
                        {
                            data["servicePort"] = servicePort;
                        }
                    }

                    InheritNamespace(data, effective, service);
                }

                break;
            case Hpa:
                if (Linked(Deployment, StatefulSet) is { } scaled)
                {
                    if (!effective.Has("scaleTargetName"))
                    {
                        data["scaleTargetName"] = LinkedName(scaled);
                        if (!effective.Has("scaleTargetKind"))
                        {
                            data["scaleTargetKind"] = Core(scaled.Type) == StatefulSet ? "StatefulSet" : "Deployment";
                        }
                    }

                    InheritNamespace(data, effective, scaled);
                }

                break;
            case NetworkPolicy:
                if (Linked(Deployment, StatefulSet, DaemonSet) is { } selected)
                {
                    if (effective.Obj("podSelector") is not { Count: > 0 })
                    {
                        data["podSelector"] = new JsonObject { ["app"] = LinkedName(selected) };
                    }

                    InheritNamespace(data, effective, selected);
                }

                break;
            case Deployment or StatefulSet or DaemonSet or Job or CronJob:
                LinkMounts(graph, node, data, effective);
                break;
        }

        return effective;
    }

    private static void InheritNamespace(JsonObject data, NodeData effective, WorkflowNode linked)
    {
        if (!effective.Has("namespace") && linked.Data.Str("namespace") is { } ns)
        {
            data["namespace"] = ns;
        }
    }

    /// <summary>
    /// A workload's mounts: those it lists (a mount naming a node by <c>nodeId</c> follows that node's current name
    /// and type), plus one per ConfigMap, Secret or PVC node wired to it that it does not list yet, at that node's
    /// <c>mountPath</c> (defaults <c>/etc/config</c>, <c>/etc/secrets</c>, <c>/data</c>).
    /// </summary>
    private static void LinkMounts(WorkflowGraph graph, WorkflowNode node, JsonObject data, NodeData effective)
    {
        // envFrom entries follow their node's current name; their sources are read as env, not mounted.
        var fromEnv = new HashSet<string>(StringComparer.Ordinal);
        if (effective.Arr("envFrom") is { Count: > 0 } envFrom)
        {
            var resolved = new JsonArray();
            foreach (var entry in envFrom.OfType<JsonObject>())
            {
                var copy = (JsonObject)entry.DeepClone();
                if (new NodeData(copy).Str("nodeId") is { } sourceId && graph.Node(sourceId) is { } source && MountType(Core(source.Type)) is { } sourceType)
                {
                    copy["name"] = NameOf(source, source.Data);
                    copy["type"] = sourceType;
                    fromEnv.Add(source.Id);
                }

                resolved.Add(copy);
            }

            data["envFrom"] = resolved;
        }

        var mounts = new JsonArray();
        foreach (var mount in (effective.Arr("volumeMounts") ?? []).OfType<JsonObject>())
        {
            var copy = (JsonObject)mount.DeepClone();
            var entry = new NodeData(copy);
            if (entry.Str("nodeId") is { } sourceId && graph.Node(sourceId) is { } source && MountType(Core(source.Type)) is { } sourceType)
            {
                copy["name"] = NameOf(source, source.Data);
                copy["type"] = sourceType;
            }

            mounts.Add(copy);
        }

        foreach (var source in graph.Neighbours(node.Id))
        {
            var sourceKind = Core(source.Type);
            if (MountType(sourceKind) is not { } type || fromEnv.Contains(source.Id))
            {
                continue;
            }

            var name = NameOf(source, source.Data);
            var listed = mounts.OfType<JsonObject>().Any(mount =>
                new NodeData(mount).Str("nodeId") == source.Id
                || (new NodeData(mount).Str("name") == name && NormalizeMountType(new NodeData(mount).Str("type")) == type));
            if (!listed)
            {
                mounts.Add(new JsonObject
                {
                    ["type"] = type,
                    ["name"] = name,
                    ["mountPath"] = source.Data.Str("mountPath") ?? DefaultMountPath(type),
                    ["nodeId"] = source.Id,
                });
            }
        }

        if (mounts.Count > 0)
        {
            data["volumeMounts"] = mounts;
        }
    }

    private static string? MountType(string? kind) => kind switch
    {
        ConfigMap => "configMap",
        Secret => "secret",
        Pvc => "persistentVolumeClaim",
        _ => null,
    };

    /// <summary>The mount types the canvas and imports write, in any spelling.</summary>
    public static string? NormalizeMountType(string? type) => type?.Trim().ToLowerInvariant() switch
    {
        "configmap" or "config" => "configMap",
        "secret" => "secret",
        "persistentvolumeclaim" or "pvc" or "volume" => "persistentVolumeClaim",
        _ => null,
    };

    private static string DefaultMountPath(string type) => type switch
    {
        "configMap" => "/etc/config",
        "secret" => "/etc/secrets",
        _ => "/data",
    };
}
