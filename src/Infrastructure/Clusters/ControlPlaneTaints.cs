using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Clusters;

/// <summary>KubeOrch's single-node mode: a single-node cluster's control-plane nodes must accept workloads, so their
/// <c>NoSchedule</c> control-plane taint is removed; turning the mode off puts it back.</summary>
public static class ControlPlaneTaints
{
    public const string Key = "node-role.kubernetes.io/control-plane";
    private const string LegacyKey = "node-role.kubernetes.io/master";

    /// <summary>Makes the control-plane nodes schedulable (or not); returns how many nodes were changed.</summary>
    public static async Task<int> SetSchedulableAsync(KubernetesClient client, bool schedulable, CancellationToken cancellationToken)
    {
        var nodes = (await client.ListAllAsync(KubernetesResourceType.Nodes, null, new ListOptions { LabelSelector = Key }, cancellationToken)).Items;
        var changed = 0;
        foreach (var node in nodes)
        {
            var taints = (node["spec"]?["taints"] as JsonArray ?? []).OfType<JsonObject>().Select(taint => (JsonObject)taint.DeepClone()).ToList();
            var controlPlane = taints.Where(taint => taint["key"]?.ToString() is Key or LegacyKey && taint["effect"]?.ToString() == "NoSchedule").ToList();
            List<JsonObject> next;
            if (schedulable && controlPlane.Count > 0)
            {
                next = [.. taints.Except(controlPlane)];
            }
            else if (!schedulable && controlPlane.Count == 0)
            {
                next = [.. taints, new JsonObject { ["key"] = Key, ["effect"] = "NoSchedule" }];
            }
            else
            {
                continue;
            }

            var patch = new JsonObject { ["spec"] = new JsonObject { ["taints"] = next.Count == 0 ? null : new JsonArray([.. next]) } };
            await client.PatchAsync(KubernetesResourceType.Nodes, null, node["metadata"]!["name"]!.ToString(), KubernetesPatch.Merge(patch), cancellationToken);
            changed++;
        }

        return changed;
    }
}
