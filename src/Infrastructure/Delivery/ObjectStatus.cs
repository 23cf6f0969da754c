using System.Globalization;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// What a Kubernetes object's status means to delivery: the node status the canvas shows (<c>data._status</c> and the
/// stream's <c>node_update</c>: <c>{state, message, …}</c> per kind, reference §8a), the tracked resource's status
/// (<c>running|pending|failed|completed|unknown|warning</c>) and the per-kind summary of the resource list.
/// </summary>
public static class ObjectStatus
{
    public static JsonObject NodeStatus(string kind, JsonObject obj)
    {
        var spec = obj["spec"] as JsonObject ?? [];
        var status = obj["status"] as JsonObject ?? [];
        switch (kind)
        {
            case "Deployment" or "StatefulSet":
                {
                    var desired = Long(spec["replicas"]) ?? 1;
                    var replicas = Long(status["replicas"]) ?? 0;
                    var ready = Long(status["readyReplicas"]) ?? 0;
                    var failed = Conditions(status).Any(condition =>
                        (Text(condition["type"]) == "ReplicaFailure" && Text(condition["status"]) == "True")
                        || (Text(condition["type"]) == "Progressing" && Text(condition["status"]) == "False"));
                    var (state, message) = failed
                        ? ("error", Conditions(status).Select(condition => Text(condition["message"])).FirstOrDefault(text => text is not null) ?? "The rollout failed")
                        : desired == 0 ? ("healthy", "Scaled to zero")
                        : ready >= desired ? ("healthy", $"All {desired} pods ready")
                        : replicas == 0 ? ("partial", $"Starting {kind.ToLowerInvariant()}...")
                        : ("partial", $"{ready}/{desired} pods ready");
                    var result = new JsonObject { ["state"] = state, ["message"] = message, ["replicas"] = desired, ["readyReplicas"] = ready };
                    if (kind == "StatefulSet")
                    {
                        result["currentReplicas"] = Long(status["currentReplicas"]) ?? 0;
                    }

                    return result;
                }

            case "DaemonSet":
                {
                    var desired = Long(status["desiredNumberScheduled"]) ?? 0;
                    var ready = Long(status["numberReady"]) ?? 0;
                    var state = desired > 0 && ready >= desired ? "healthy" : "partial";
                    return new JsonObject
                    {
                        ["state"] = state,
                        ["message"] = desired == 0 ? "No nodes scheduled yet" : $"{ready}/{desired} pods ready",
                        ["desiredNumberScheduled"] = desired,
                        ["numberReady"] = ready,
                    };
                }

            case "Job":
                {
                    var succeeded = Long(status["succeeded"]) ?? 0;
                    var failedPods = Long(status["failed"]) ?? 0;
                    var active = Long(status["active"]) ?? 0;
                    var state = JobFinished(status, "Complete") ? "completed" : JobFinished(status, "Failed") ? "failed" : "running";
                    return new JsonObject
                    {
                        ["state"] = state,
                        ["message"] = state switch { "completed" => "Job completed", "failed" => "Job failed", _ => active > 0 ? $"{active} pod(s) running" : "Job created successfully" },
                        ["active"] = active,
                        ["succeeded"] = succeeded,
                        ["failed"] = failedPods,
                    };
                }

            case "CronJob":
                return new JsonObject
                {
                    ["state"] = "active",
                    ["message"] = NodeData.Flag(spec["suspend"]) == true ? "CronJob suspended" : $"Scheduled: {Text(spec["schedule"])}",
                    ["lastScheduleTime"] = Text(status["lastScheduleTime"]),
                };
            case "Service":
                {
                    var type = Text(spec["type"]) ?? "ClusterIP";
                    var ingress = (status["loadBalancer"]?["ingress"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
                    var externalIp = ingress is null ? null : Text(ingress["ip"]) ?? Text(ingress["hostname"]);
                    var nodePort = (spec["ports"] as JsonArray)?.OfType<JsonObject>().Select(port => Long(port["nodePort"])).FirstOrDefault(port => port is not null);
                    var pending = type == "LoadBalancer" && externalIp is null;
                    var result = new JsonObject
                    {
                        ["state"] = pending ? "partial" : "healthy",
                        ["message"] = pending ? "Waiting for a load balancer address" : $"ClusterIP: {Text(spec["clusterIP"]) ?? "pending"}",
                        ["clusterIP"] = Text(spec["clusterIP"]),
                        ["externalIP"] = externalIp,
                    };
                    if (nodePort is not null)
                    {
                        result["nodePort"] = nodePort;
                    }

                    return result;
                }

            case "Ingress":
                {
                    var ingress = (status["loadBalancer"]?["ingress"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
                    var ip = ingress is null ? null : Text(ingress["ip"]);
                    var hostname = ingress is null ? null : Text(ingress["hostname"]);
                    return new JsonObject
                    {
                        ["state"] = ip is null && hostname is null ? "pending" : "healthy",
                        ["message"] = ip is null && hostname is null ? "Waiting for the ingress controller to assign an address" : $"Address: {ip ?? hostname}",
                        ["loadBalancerIP"] = ip,
                        ["loadBalancerHostname"] = hostname,
                        ["rulesCount"] = (spec["rules"] as JsonArray)?.Count ?? 0,
                    };
                }

            case "PersistentVolumeClaim":
                {
                    var phase = Text(status["phase"]) ?? "Pending";
                    return new JsonObject
                    {
                        ["state"] = phase == "Lost" ? "error" : phase,
                        ["message"] = phase switch { "Bound" => "Volume bound", "Lost" => "The bound volume was lost", _ => "Waiting for a volume" },
                        ["capacity"] = Text(status["capacity"]?["storage"]),
                        ["volumeName"] = Text(spec["volumeName"]),
                    };
                }

            case "ConfigMap":
                return new JsonObject { ["state"] = "created", ["message"] = "ConfigMap created successfully" };
            case "Secret":
                return new JsonObject { ["state"] = "created", ["message"] = "Secret created successfully" };
            case "HorizontalPodAutoscaler":
                return new JsonObject
                {
                    ["state"] = "stable",
                    ["message"] = $"Scaling {Text(spec["scaleTargetRef"]?["name"])} between {Long(spec["minReplicas"]) ?? 1} and {Long(spec["maxReplicas"])} replicas",
                    ["currentReplicas"] = Long(status["currentReplicas"]) ?? 0,
                    ["desiredReplicas"] = Long(status["desiredReplicas"]) ?? 0,
                };
            case "NetworkPolicy":
                return new JsonObject { ["state"] = "active", ["message"] = "NetworkPolicy active" };
            case "Pod":
                {
                    var phase = Text(status["phase"]) ?? "Pending";
                    return new JsonObject { ["state"] = phase switch { "Running" => "healthy", "Succeeded" => "completed", "Failed" => "error", _ => "pending" }, ["phase"] = phase, ["message"] = $"Pod {phase}" };
                }

            default:
                return new JsonObject { ["state"] = "created", ["message"] = $"{kind} created successfully" };
        }
    }

    /// <summary>The tracked resource's status, from the object's kind and status.</summary>
    public static string ResourceStatus(string kind, JsonObject obj)
    {
        var spec = obj["spec"] as JsonObject ?? [];
        var status = obj["status"] as JsonObject ?? [];
        switch (kind)
        {
            case "Deployment" or "StatefulSet":
                {
                    var desired = Long(spec["replicas"]) ?? 1;
                    var ready = Long(status["readyReplicas"]) ?? Long(status["availableReplicas"]) ?? 0;
                    var failed = Conditions(status).Any(condition => Text(condition["type"]) == "Progressing" && Text(condition["status"]) == "False");
                    return failed ? "failed" : desired == 0 ? "completed" : ready >= desired ? "running" : ready > 0 ? "warning" : "pending";
                }

            case "DaemonSet":
                {
                    var desired = Long(status["desiredNumberScheduled"]) ?? 0;
                    var ready = Long(status["numberReady"]) ?? 0;
                    return desired == 0 ? "pending" : ready >= desired ? "running" : ready > 0 ? "warning" : "pending";
                }

            case "Pod":
                return Text(status["phase"]) switch
                {
                    "Running" => (status["containerStatuses"] as JsonArray)?.OfType<JsonObject>().Any(container => NodeData.Flag(container["ready"]) == false) == true ? "warning" : "running",
                    "Pending" => "pending",
                    "Succeeded" => "completed",
                    "Failed" => "failed",
                    _ => "unknown",
                };
            case "Job":
                return JobFinished(status, "Complete") ? "completed" : JobFinished(status, "Failed") ? "failed" : (Long(status["active"]) ?? 0) > 0 ? "running" : "pending";
            case "CronJob":
                return NodeData.Flag(spec["suspend"]) == true ? "pending" : "running";
            case "Service":
                return Text(spec["type"]) == "LoadBalancer" && status["loadBalancer"]?["ingress"] is not JsonArray { Count: > 0 } ? "pending" : "running";
            case "PersistentVolumeClaim":
                return Text(status["phase"]) switch { "Bound" => "running", "Lost" => "failed", _ => "pending" };
            case "Node":
                return Conditions(status).Any(condition => Text(condition["type"]) == "Ready" && Text(condition["status"]) == "True") ? "running" : "failed";
            case "Namespace":
                return Text(status["phase"]) == "Terminating" ? "pending" : "running";
            default:
                return "running";
        }
    }

    /// <summary>The per-kind summary of the resource list (reference §10), with the object's <c>age</c>.</summary>
    public static JsonObject Summary(string kind, JsonObject spec, JsonObject state, DateTime? createdAt, DateTimeOffset now)
    {
        var summary = new JsonObject();
        switch (kind)
        {
            case "Deployment" or "StatefulSet":
                summary["replicas"] = $"{Long(state["readyReplicas"]) ?? 0}/{Long(spec["replicas"]) ?? 1}";
                summary["available"] = Long(state["availableReplicas"]) ?? 0;
                break;
            case "DaemonSet":
                summary["replicas"] = $"{Long(state["numberReady"]) ?? 0}/{Long(state["desiredNumberScheduled"]) ?? 0}";
                break;
            case "Pod":
                var containers = (state["containerStatuses"] as JsonArray)?.OfType<JsonObject>().ToList() ?? [];
                summary["containers"] = containers.Count > 0 ? containers.Count : (spec["containers"] as JsonArray)?.Count ?? 0;
                summary["restarts"] = containers.Sum(container => Long(container["restartCount"]) ?? 0);
                summary["nodeName"] = Text(spec["nodeName"]);
                summary["podIP"] = Text(state["podIP"]);
                break;
            case "Service":
                summary["type"] = Text(spec["type"]) ?? "ClusterIP";
                summary["clusterIP"] = Text(spec["clusterIP"]);
                summary["ports"] = string.Join(",", (spec["ports"] as JsonArray ?? []).OfType<JsonObject>()
                    .Select(port => $"{Long(port["port"])}{(Long(port["nodePort"]) is { } nodePort ? ":" + nodePort.ToString(CultureInfo.InvariantCulture) : string.Empty)}/{Text(port["protocol"]) ?? "TCP"}"));
                break;
            case "Ingress":
                var rules = (spec["rules"] as JsonArray ?? []).OfType<JsonObject>().ToList();
                summary["class"] = Text(spec["ingressClassName"]);
                summary["hosts"] = string.Join(",", rules.Select(rule => Text(rule["host"])).OfType<string>());
                summary["rules"] = rules.Count;
                summary["paths"] = rules.Sum(rule => (rule["http"]?["paths"] as JsonArray)?.Count ?? 0);
                summary["loadBalancerIP"] = Text((state["loadBalancer"]?["ingress"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault()?["ip"]);
                break;
            case "Node":
                summary["cpu"] = Text(state["capacity"]?["cpu"]);
                summary["memory"] = Text(state["capacity"]?["memory"]);
                break;
        }

        summary["age"] = createdAt is { } created ? Age(now - created) : null;
        return summary;
    }

    /// <summary><c>45s</c>, <c>5m</c>, <c>3h</c>, <c>2d</c>.</summary>
    public static string Age(TimeSpan age) =>
        age.TotalSeconds < 60 ? $"{Math.Max(0, (int)age.TotalSeconds)}s"
        : age.TotalMinutes < 60 ? $"{(int)age.TotalMinutes}m"
        : age.TotalHours < 24 ? $"{(int)age.TotalHours}h"
        : $"{(int)age.TotalDays}d";

    private static bool JobFinished(JsonObject status, string type) =>
        Conditions(status).Any(condition => Text(condition["type"]) == type && Text(condition["status"]) == "True");

    private static IEnumerable<JsonObject> Conditions(JsonObject status) => (status["conditions"] as JsonArray ?? []).OfType<JsonObject>();

    private static long? Long(JsonNode? node) => NodeData.Number(node);

    private static string? Text(JsonNode? node) => NodeData.Text(node);
}
