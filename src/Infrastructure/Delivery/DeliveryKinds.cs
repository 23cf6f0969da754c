using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// The Kubernetes types delivery renders, syncs and cleans up, by apiVersion and kind; any other kind (plugin custom
/// resources) is found through the cluster's discovery.
/// </summary>
public static class DeliveryKinds
{
    public static readonly KubernetesResourceType ConfigMaps = KubernetesResourceType.Core("configmaps", "ConfigMap");
    public static readonly KubernetesResourceType Secrets = KubernetesResourceType.Core("secrets", "Secret");
    public static readonly KubernetesResourceType Endpoints = KubernetesResourceType.Core("endpoints", "Endpoints");
    public static readonly KubernetesResourceType StatefulSets = new("apps", "v1", "statefulsets", "StatefulSet");
    public static readonly KubernetesResourceType DaemonSets = new("apps", "v1", "daemonsets", "DaemonSet");
    public static readonly KubernetesResourceType Jobs = new("batch", "v1", "jobs", "Job");
    public static readonly KubernetesResourceType CronJobs = new("batch", "v1", "cronjobs", "CronJob");
    public static readonly KubernetesResourceType Ingresses = new("networking.k8s.io", "v1", "ingresses", "Ingress");
    public static readonly KubernetesResourceType NetworkPolicies = new("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy");
    public static readonly KubernetesResourceType HorizontalPodAutoscalers = new("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler");

    /// <summary>Everything a resource sync lists, namespaced kinds first, in the upstream's order.</summary>
    public static IReadOnlyList<KubernetesResourceType> Synced { get; } =
    [
        KubernetesResourceType.Deployments, KubernetesResourceType.Pods, KubernetesResourceType.Services, StatefulSets, ConfigMaps, Secrets,
        Ingresses, Jobs, CronJobs, DaemonSets, HorizontalPodAutoscalers, NetworkPolicies, KubernetesResourceType.PersistentVolumeClaims,
        KubernetesResourceType.Nodes, KubernetesResourceType.Namespaces,
    ];

    private static readonly IReadOnlyList<KubernetesResourceType> Known =
        [.. Synced, KubernetesResourceType.Events, Endpoints, KubernetesResourceType.StorageClasses];

    /// <summary>
    /// The order objects are deleted in when a workflow is archived: traffic first (ingress, service), then work
    /// (cronjob, job, statefulset, deployment, daemonset), then what scaled and guarded it (hpa, networkpolicy — the
    /// upstream left those behind), then config and storage, then custom resources. Secrets are kept: their values
    /// are never stored, so they could not be put back.
    /// </summary>
    private static readonly string[] DeletionOrder =
        ["Ingress", "Service", "CronJob", "Job", "StatefulSet", "Deployment", "DaemonSet", "HorizontalPodAutoscaler", "NetworkPolicy", "ConfigMap", "PersistentVolumeClaim"];

    public static KubernetesResourceType? Find(string apiVersion, string kind) =>
        Known.FirstOrDefault(type => type.ApiVersion == apiVersion && type.Kind == kind);

    /// <summary>The built-in type, or the one discovery finds (plugin custom resources); 400 when the cluster does
    /// not serve it (the CRD is not installed).</summary>
    public static async Task<KubernetesResourceType> ResolveAsync(KubernetesClient client, string apiVersion, string kind, CancellationToken cancellationToken) =>
        Find(apiVersion, kind)
        ?? await client.ResolveKindAsync(apiVersion, kind, cancellationToken)
        ?? throw new KubernetesApiException(400, $"Cluster '{client.Name}' does not serve {kind} in {apiVersion} (is its CRD installed?)", 404, "NotFound");

    /// <summary>Sort key for deleting objects of a workflow (unknown kinds, custom resources, go last).</summary>
    public static int DeletionRank(string kind)
    {
        var index = Array.IndexOf(DeletionOrder, kind);
        return index < 0 ? DeletionOrder.Length : index;
    }

    public static bool KeptOnCleanup(string kind) => kind == "Secret";
}
