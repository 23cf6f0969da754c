using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Capstan.Infrastructure.Delivery;

public static partial class ManifestRenderer
{
    private static readonly string[] AccessModes = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];
    private static readonly string[] ServiceTypes = ["ClusterIP", "NodePort", "LoadBalancer", "ExternalName"];
    private static readonly string[] PathTypes = ["Prefix", "Exact", "ImplementationSpecific"];

    /// <summary>
    /// Checks every node before anything is applied (the upstream validated node by node while applying, so a bad
    /// node failed the run half-way): names and namespaces are DNS names, images have no spaces, ports, replicas,
    /// CPU and memory quantities, schedules, policy types and HPA bounds are in range, a service knows what it
    /// selects, an ingress where it routes, an HPA what it scales. Problems are addressed <c>nodes.&lt;id&gt;.&lt;field&gt;</c>.
    /// </summary>
    public static List<GraphProblem> Validate(WorkflowGraph graph, RenderContext context)
    {
        var problems = new List<GraphProblem>();
        foreach (var node in graph.Nodes)
        {
            void Problem(string field, string message) => problems.Add(new($"nodes.{node.Id}.{field}", message));
            var kind = KindOf(node, context.PluginTypes);
            if (kind is null)
            {
                Problem("type", $"unknown node type '{node.Type}' (core types: {string.Join(", ", CoreTypes)}, or an enabled plugin's node type)");
                continue;
            }

            var data = Effective(graph, node, kind);
            var name = NameOf(node, data);
            var longNames = kind is ConfigMap or Secret or Pvc or Plugin;
            if (!(longNames ? DnsSubdomain().IsMatch(name) && name.Length <= 253 : DnsLabel().IsMatch(name) && name.Length <= 63))
            {
                Problem("name", $"'{name}' is not a valid Kubernetes name: lower-case letters, digits and '-', starting and ending with a letter or digit, at most {(longNames ? 253 : 63)} characters");
            }

            if (data.Str("namespace") is { } ns && !(DnsLabel().IsMatch(ns) && ns.Length <= 63))
            {
                Problem("namespace", $"'{ns}' is not a valid namespace name");
            }

            switch (kind)
            {
                case Deployment or StatefulSet or DaemonSet or Job or CronJob:
                    CheckWorkload(data, kind, Problem);
                    break;
                case Service:
                    CheckService(data, Problem);
                    break;
                case Ingress:
                    CheckIngress(data, Problem);
                    break;
                case ConfigMap:
                    foreach (var (key, _) in data.Map("data").Where(pair => !IsPlaceholderKey(pair.Key)))
                    {
                        if (!ConfigKey().IsMatch(key) || key.Length > 253)
                        {
                            Problem("data", $"'{key}' is not a valid ConfigMap key (letters, digits, '-', '_' and '.')");
                        }
                    }

                    break;
                case Secret:
                    if (context.Secrets.TryGetValue(node.Id, out var values))
                    {
                        foreach (var key in values.Keys.Where(key => !IsPlaceholderKey(key) && (!ConfigKey().IsMatch(key.Trim()) || key.Length > 253)))
                        {
                            Problem("keys", $"'{key}' is not a valid Secret key (letters, digits, '-', '_' and '.')");
                        }
                    }

                    break;
                case Pvc:
                    if (data.Str("storage") is not { } storage)
                    {
                        Problem("storage", "storage (the size, for example 10Gi) is required");
                    }
                    else if (!Memory().IsMatch(storage))
                    {
                        Problem("storage", $"'{storage}' is not a storage size (for example 10Gi)");
                    }

                    foreach (var mode in data.Strings("accessModes").Where(mode => !AccessModes.Contains(mode)))
                    {
                        Problem("accessModes", $"'{mode}' is not an access mode ({string.Join(", ", AccessModes)})");
                    }

                    break;
                case Hpa:
                    CheckHpa(data, Problem);
                    break;
                case NetworkPolicy:
                    var policyTypes = data.Strings("policyTypes");
                    if (policyTypes.Count == 0)
                    {
                        Problem("policyTypes", "policyTypes needs Ingress, Egress or both");
                    }

                    foreach (var type in policyTypes.Where(type => type is not "Ingress" and not "Egress"))
                    {
                        Problem("policyTypes", $"'{type}' is not a policy type (Ingress or Egress)");
                    }

                    break;
                case Plugin:
                    var pluginType = PluginTypeOf(node, context.PluginTypes)!;
                    foreach (var field in pluginType.Fields.Where(field => field.Required && field.Id is not "name" and not "namespace"))
                    {
                        if (!data.Has(field.Id) && field.Default is null)
                        {
                            Problem(field.Id, $"{field.Id} is required by {pluginType.DisplayName}");
                        }
                    }

                    break;
            }
        }

        return problems;
    }

    private static void CheckWorkload(NodeData data, string kind, Action<string, string> problem)
    {
        if (data.Str("image") is not { } image)
        {
            problem("image", "image is required");
        }
        else if (image.Any(char.IsWhiteSpace))
        {
            problem("image", $"'{image}' is not an image reference (no spaces)");
        }

        if (data.IsNotNumber("replicas") || data.Long("replicas") is < 0 or > 1000)
        {
            problem("replicas", "replicas must be a whole number from 0 to 1000");
        }

        CheckPort(data, "port", problem, optional: true);
        if (data.Obj("resources") is { } resources)
        {
            foreach (var section in new[] { "requests", "limits" })
            {
                var values = new NodeData(NodeData.Find(resources, section) as JsonObject ?? []);
                if (values.Str("cpu") is { } cpu && !Cpu().IsMatch(cpu))
                {
                    problem($"resources.{section}.cpu", $"'{cpu}' is not a CPU quantity (for example 250m or 0.5)");
                }

                if (values.Str("memory") is { } memory && !Memory().IsMatch(memory))
                {
                    problem($"resources.{section}.memory", $"'{memory}' is not a memory quantity (for example 256Mi or 1Gi)");
                }
            }
        }

        foreach (var mount in (data.Arr("volumeMounts") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
        {
            if (NormalizeMountType(mount.Str("type")) is null || mount.Str("name") is null || mount.Str("mountPath") is not { } path || !path.StartsWith('/'))
            {
                problem("volumeMounts", "each volume mount needs a type (configMap, secret, persistentVolumeClaim), a name and an absolute mountPath");
            }
        }

        switch (kind)
        {
            case Job when data.Str("restartPolicy") is { } policy && policy is not "Never" and not "OnFailure":
                problem("restartPolicy", "a Job's restartPolicy is Never or OnFailure");
                break;
            case CronJob:
                if (data.Str("schedule") is not { } schedule)
                {
                    problem("schedule", "schedule (a cron expression) is required");
                }
                else if (schedule.Split(' ', StringSplitOptions.RemoveEmptyEntries) is { Length: < 5 or > 6 } && !schedule.StartsWith('@'))
                {
                    problem("schedule", $"'{schedule}' is not a cron expression of 5 or 6 fields");
                }

                if (data.Str("concurrencyPolicy") is { } concurrency && concurrency is not "Allow" and not "Forbid" and not "Replace")
                {
                    problem("concurrencyPolicy", "concurrencyPolicy is Allow, Forbid or Replace");
                }

                if (data.Str("restartPolicy") is { } cronRestart && cronRestart is not "Never" and not "OnFailure")
                {
                    problem("restartPolicy", "a CronJob's restartPolicy is Never or OnFailure");
                }

                break;
            case DaemonSet when data.Str("updateStrategy") is { } strategy && strategy is not "RollingUpdate" and not "OnDelete":
                problem("updateStrategy", "updateStrategy is RollingUpdate or OnDelete");
                break;
            case StatefulSet when data.Str("serviceName") is { } serviceName && !DnsLabel().IsMatch(serviceName):
                problem("serviceName", $"'{serviceName}' is not a valid service name");
                break;
        }
    }

    private static void CheckService(NodeData data, Action<string, string> problem)
    {
        var type = data.Str("serviceType") ?? data.Str("type") ?? "ClusterIP";
        if (!ServiceTypes.Contains(type))
        {
            problem("serviceType", $"'{type}' is not a service type ({string.Join(", ", ServiceTypes)})");
        }

        if (data.Arr("ports") is { Count: > 0 } ports)
        {
            foreach (var port in ports.OfType<JsonObject>().Select(item => new NodeData(item)))
            {
                CheckPort(port, "port", (field, message) => problem("ports", message), optional: false);
            }
        }
        else
        {
            CheckPort(data, "port", problem, optional: false);
        }

        if (data.Long("nodePort") is { } nodePort && nodePort is < 30000 or > 32767)
        {
            problem("nodePort", "nodePort must be between 30000 and 32767");
        }

        if (!data.Has("targetApp") && data.Obj("selector") is not { Count: > 0 })
        {
            problem("targetApp", "targetApp (or a selector) is required: name the app to route to, or connect the service to a workload");
        }
    }

    private static void CheckIngress(NodeData data, Action<string, string> problem)
    {
        var paths = (data.Arr("paths") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)).ToList();
        if (paths.Count == 0)
        {
            paths.Add(data);
        }

        foreach (var path in paths)
        {
            if (!path.Has("serviceName") || !path.Has("servicePort"))
            {
                problem("paths", "each path needs serviceName and servicePort (or connect the ingress to a service)");
            }

            if (path.Str("path") is { } value && !value.StartsWith('/'))
            {
                problem("paths", $"'{value}' is not an absolute path");
            }

            if (path.Str("pathType") is { } pathType && !PathTypes.Contains(pathType))
            {
                problem("paths", $"'{pathType}' is not a path type ({string.Join(", ", PathTypes)})");
            }
        }

        if (data.Str("host") is { } host && !DnsSubdomain().IsMatch(host.TrimStart('*', '.')))
        {
            problem("host", $"'{host}' is not a host name");
        }
    }

    private static void CheckHpa(NodeData data, Action<string, string> problem)
    {
        if (!data.Has("scaleTargetName"))
        {
            problem("scaleTargetName", "scaleTargetName is required (or connect the HPA to a deployment)");
        }

        if (data.Str("scaleTargetKind") is { } kind && kind is not "Deployment" and not "StatefulSet")
        {
            problem("scaleTargetKind", "scaleTargetKind is Deployment or StatefulSet");
        }

        var min = data.Long("minReplicas") ?? 1;
        if (data.Long("maxReplicas") is not { } max || max < 1)
        {
            problem("maxReplicas", "maxReplicas must be 1 or more");
        }
        else if (min < 1 || min > max)
        {
            problem("minReplicas", "minReplicas must be between 1 and maxReplicas");
        }

        var cpu = data.Long("targetCPUUtilization");
        var memory = data.Long("targetMemoryUtilization");
        if (cpu is null && memory is null)
        {
            problem("targetCPUUtilization", "set targetCPUUtilization or targetMemoryUtilization");
        }

        if (cpu is < 1 or > 100)
        {
            problem("targetCPUUtilization", "targetCPUUtilization is a percentage from 1 to 100");
        }

        if (memory is < 1 or > 100)
        {
            problem("targetMemoryUtilization", "targetMemoryUtilization is a percentage from 1 to 100");
        }
    }

    private static void CheckPort(NodeData data, string key, Action<string, string> problem, bool optional)
    {
        if (data.IsNotNumber(key) || data.Long(key) is < 1 or > 65535 || (!optional && data.Long(key) is null))
        {
            if (optional && data.Long(key) is 0)
            {
                return;
            }

            problem(key, $"{key} must be a port number from 1 to 65535");
        }
    }

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")]
    private static partial Regex DnsLabel();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex DnsSubdomain();

    [GeneratedRegex("^[-._a-zA-Z0-9]+$")]
    private static partial Regex ConfigKey();

    [GeneratedRegex("^(\\d+(\\.\\d+)?|\\d+m)$")]
    private static partial Regex Cpu();

    [GeneratedRegex("^\\d+(\\.\\d+)?(E|P|T|G|M|K|k|Ei|Pi|Ti|Gi|Mi|Ki)?$")]
    private static partial Regex Memory();
}
