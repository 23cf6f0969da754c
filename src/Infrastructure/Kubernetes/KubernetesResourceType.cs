using System.Text;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>
/// A Kubernetes resource type addressed over REST: group (empty for core), version, plural, and whether it lives in
/// namespaces. Builds the paths the API server serves: <c>/api/v1/namespaces/{ns}/pods/{name}</c>,
/// <c>/apis/{group}/{version}/{plural}</c> and so on.
/// </summary>
public sealed record KubernetesResourceType(string Group, string Version, string Plural, string? Kind = null, bool Namespaced = true)
{
    public static readonly KubernetesResourceType Pods = Core("pods", "Pod");
    public static readonly KubernetesResourceType Events = Core("events", "Event");
    public static readonly KubernetesResourceType Namespaces = Core("namespaces", "Namespace", namespaced: false);
    public static readonly KubernetesResourceType Nodes = Core("nodes", "Node", namespaced: false);
    public static readonly KubernetesResourceType Services = Core("services", "Service");
    public static readonly KubernetesResourceType PersistentVolumeClaims = Core("persistentvolumeclaims", "PersistentVolumeClaim");
    public static readonly KubernetesResourceType Deployments = new("apps", "v1", "deployments", "Deployment");
    public static readonly KubernetesResourceType StorageClasses = new("storage.k8s.io", "v1", "storageclasses", "StorageClass", Namespaced: false);

    /// <summary><c>group/version</c>, or just the version for the core group.</summary>
    public string ApiVersion => Group.Length == 0 ? Version : $"{Group}/{Version}";

    public static KubernetesResourceType Core(string plural, string? kind = null, bool namespaced = true) => new(string.Empty, "v1", plural, kind, namespaced);

    /// <summary>Parses <c>apiVersion</c> (<c>v1</c> or <c>group/version</c>) into its group and version.</summary>
    public static (string Group, string Version) SplitApiVersion(string apiVersion)
    {
        var slash = apiVersion.IndexOf('/', StringComparison.Ordinal);
        return slash < 0 ? (string.Empty, apiVersion) : (apiVersion[..slash], apiVersion[(slash + 1)..]);
    }

    /// <summary>The group-version prefix: <c>/api/v1</c> or <c>/apis/{group}/{version}</c>.</summary>
    public string GroupVersionPath => Group.Length == 0 ? $"/api/{Version}" : $"/apis/{Group}/{Version}";

    /// <summary>The collection, cluster-wide when <paramref name="namespace"/> is null.</summary>
    public string CollectionPath(string? @namespace)
    {
        var path = new StringBuilder(GroupVersionPath);
        if (Namespaced && !string.IsNullOrEmpty(@namespace))
        {
            path.Append("/namespaces/").Append(Uri.EscapeDataString(@namespace));
        }

        return path.Append('/').Append(Plural).ToString();
    }

    /// <summary>One object, or one of its subresources (<c>status</c>, <c>log</c>, <c>scale</c>).</summary>
    public string ItemPath(string? @namespace, string name, string? subresource = null)
    {
        if (Namespaced && string.IsNullOrEmpty(@namespace))
        {
            throw new ArgumentException($"{Plural} are namespaced: a namespace is required", nameof(@namespace));
        }

        var path = CollectionPath(@namespace) + "/" + Uri.EscapeDataString(name);
        return subresource is null ? path : path + "/" + subresource;
    }

    public override string ToString() => Group.Length == 0 ? Plural : $"{Plural}.{Group}";
}
