namespace Capstan.Tests.Support.Kubernetes;

/// <summary>A resource type the fake API server serves. Its own table, on purpose independent of the service's, so a
/// wrong group, version or plural in the service shows up as the 404 a real cluster would answer.</summary>
public sealed record FakeResourceType(
    string Group,
    string Version,
    string Plural,
    string Kind,
    bool Namespaced = true,
    bool HasStatus = true,
    bool IsCustom = false)
{
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public string Key => $"{Group}/{Plural}";

    /// <summary>How a real API server names the resource in messages: <c>kustomizations.kustomize.toolkit.fluxcd.io</c>.</summary>
    public string QualifiedName => Group.Length == 0 ? Plural : $"{Plural}.{Group}";

    public string Singular => Kind.ToLowerInvariant();
}

public static class FakeResourceTypes
{
    public static IReadOnlyList<FakeResourceType> Flux { get; } =
    [
        new("source.toolkit.fluxcd.io", "v1", "gitrepositories", "GitRepository", IsCustom: true),
        new("source.toolkit.fluxcd.io", "v1", "helmrepositories", "HelmRepository", IsCustom: true),
        new("source.toolkit.fluxcd.io", "v1", "helmcharts", "HelmChart", IsCustom: true),
        new("source.toolkit.fluxcd.io", "v1", "buckets", "Bucket", IsCustom: true),
        new("source.toolkit.fluxcd.io", "v1", "ocirepositories", "OCIRepository", IsCustom: true),
        new("kustomize.toolkit.fluxcd.io", "v1", "kustomizations", "Kustomization", IsCustom: true),
        new("helm.toolkit.fluxcd.io", "v2", "helmreleases", "HelmRelease", IsCustom: true),
        new("notification.toolkit.fluxcd.io", "v1beta3", "alerts", "Alert", IsCustom: true),
        new("notification.toolkit.fluxcd.io", "v1beta3", "providers", "Provider", IsCustom: true),
        new("notification.toolkit.fluxcd.io", "v1", "receivers", "Receiver", IsCustom: true),
        new("image.toolkit.fluxcd.io", "v1", "imagerepositories", "ImageRepository", IsCustom: true),
        new("image.toolkit.fluxcd.io", "v1", "imagepolicies", "ImagePolicy", IsCustom: true),
        new("image.toolkit.fluxcd.io", "v1", "imageupdateautomations", "ImageUpdateAutomation", IsCustom: true),
    ];

    public static IReadOnlyList<FakeResourceType> Builtin { get; } =
    [
        new(string.Empty, "v1", "namespaces", "Namespace", Namespaced: false),
        new(string.Empty, "v1", "nodes", "Node", Namespaced: false),
        new(string.Empty, "v1", "pods", "Pod"),
        new(string.Empty, "v1", "events", "Event", HasStatus: false),
        new(string.Empty, "v1", "services", "Service"),
        new(string.Empty, "v1", "configmaps", "ConfigMap", HasStatus: false),
        new(string.Empty, "v1", "secrets", "Secret", HasStatus: false),
        new(string.Empty, "v1", "serviceaccounts", "ServiceAccount", HasStatus: false),
        new(string.Empty, "v1", "persistentvolumeclaims", "PersistentVolumeClaim"),
        new(string.Empty, "v1", "persistentvolumes", "PersistentVolume", Namespaced: false),
        new("apps", "v1", "deployments", "Deployment"),
        new("apps", "v1", "statefulsets", "StatefulSet"),
        new("apps", "v1", "daemonsets", "DaemonSet"),
        new("apps", "v1", "replicasets", "ReplicaSet"),
        new("batch", "v1", "jobs", "Job"),
        new("batch", "v1", "cronjobs", "CronJob"),
        new("networking.k8s.io", "v1", "ingresses", "Ingress"),
        new("networking.k8s.io", "v1", "networkpolicies", "NetworkPolicy", HasStatus: false),
        new("autoscaling", "v2", "horizontalpodautoscalers", "HorizontalPodAutoscaler"),
        new("storage.k8s.io", "v1", "storageclasses", "StorageClass", Namespaced: false, HasStatus: false),
        new("rbac.authorization.k8s.io", "v1", "roles", "Role", HasStatus: false),
        new("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding", HasStatus: false),
    ];

    /// <summary>metrics-server's API; not registered by default (clusters without metrics-server are the common case
    /// in tests), tests add it with <see cref="FakeStore.RegisterType"/>.</summary>
    public static FakeResourceType NodeMetrics { get; } = new("metrics.k8s.io", "v1beta1", "nodes", "NodeMetrics", Namespaced: false, HasStatus: false);

    public static IEnumerable<FakeResourceType> All => Builtin.Concat(Flux);
}
