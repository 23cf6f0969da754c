using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Flux;

/// <summary>A Flux resource type: its URL plural, Kind, API group and version, and the controller that reconciles it
/// (whose pod logs mention it).</summary>
public sealed record FluxResourceType(string Plural, string Kind, string Group, string Version, string Controller)
{
    public string ApiVersion => $"{Group}/{Version}";

    public KubernetesResourceType Resource => new(Group, Version, Plural, Kind);
}

/// <summary>The 13 Flux types Gyre serves (reference <c>gyre.md</c> §5), resolvable by plural or Kind in any case.</summary>
public static class FluxResourceTypes
{
    public static IReadOnlyList<FluxResourceType> All { get; } =
    [
        new("gitrepositories", "GitRepository", "source.toolkit.fluxcd.io", "v1", "source-controller"),
        new("helmrepositories", "HelmRepository", "source.toolkit.fluxcd.io", "v1", "source-controller"),
        new("helmcharts", "HelmChart", "source.toolkit.fluxcd.io", "v1", "source-controller"),
        new("buckets", "Bucket", "source.toolkit.fluxcd.io", "v1", "source-controller"),
        new("ocirepositories", "OCIRepository", "source.toolkit.fluxcd.io", "v1", "source-controller"),
        new("kustomizations", "Kustomization", "kustomize.toolkit.fluxcd.io", "v1", "kustomize-controller"),
        new("helmreleases", "HelmRelease", "helm.toolkit.fluxcd.io", "v2", "helm-controller"),
        new("alerts", "Alert", "notification.toolkit.fluxcd.io", "v1beta3", "notification-controller"),
        new("providers", "Provider", "notification.toolkit.fluxcd.io", "v1beta3", "notification-controller"),
        new("receivers", "Receiver", "notification.toolkit.fluxcd.io", "v1", "notification-controller"),
        new("imagerepositories", "ImageRepository", "image.toolkit.fluxcd.io", "v1", "image-reflector-controller"),
        new("imagepolicies", "ImagePolicy", "image.toolkit.fluxcd.io", "v1", "image-reflector-controller"),
        new("imageupdateautomations", "ImageUpdateAutomation", "image.toolkit.fluxcd.io", "v1", "image-automation-controller"),
    ];

    /// <summary>The Flux controllers (event sources and log owners).</summary>
    public static IReadOnlyList<string> Controllers { get; } = [.. All.Select(type => type.Controller).Distinct()];

    /// <summary>For messages: every accepted plural.</summary>
    public static string ValidTypes => string.Join(", ", All.Select(type => type.Plural));

    /// <summary>The type named by its plural (<c>kustomizations</c>) or Kind (<c>Kustomization</c>), in any case.</summary>
    public static FluxResourceType? Resolve(string? name) =>
        string.IsNullOrWhiteSpace(name)
            ? null
            : All.FirstOrDefault(type => string.Equals(type.Plural, name.Trim(), StringComparison.OrdinalIgnoreCase) || string.Equals(type.Kind, name.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>The type of a Kind exactly as Kubernetes spells it.</summary>
    public static FluxResourceType? ByKind(string? kind) => All.FirstOrDefault(type => type.Kind == kind);
}
