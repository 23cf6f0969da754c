using System.Globalization;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Flux;

/// <summary>The object an event is about.</summary>
public sealed record InvolvedObjectView(string? Kind, string? Name, string? Namespace, string? ApiVersion);

/// <summary>A Kubernetes event as Gyre's <c>K8sEvent</c> shows it.</summary>
public sealed record KubernetesEventView(
    string? Name,
    string? Namespace,
    string Type,
    string? Reason,
    string? Message,
    int Count,
    DateTimeOffset? FirstTimestamp,
    DateTimeOffset? LastTimestamp,
    string? Source,
    InvolvedObjectView InvolvedObject);

/// <summary>Reading core events: the view, the timestamp to sort by, and whether a Flux controller raised it.</summary>
public static class FluxEvents
{
    private static readonly string[] FluxKinds = ["GitRepository", "Kustomization", "HelmRelease", "HelmRepository", "HelmChart", "Bucket", "OCIRepository"];

    public static KubernetesEventView View(JsonObject e)
    {
        var involved = e["involvedObject"] as JsonObject;
        var first = Time(e["firstTimestamp"]) ?? Time(e["eventTime"]) ?? Time(e["metadata"]?["creationTimestamp"]);
        var last = Time(e["lastTimestamp"]) ?? Time(e["series"]?["lastObservedTime"]) ?? Time(e["eventTime"]) ?? first;
        return new KubernetesEventView(
            e["metadata"]?["name"]?.ToString(),
            e["metadata"]?["namespace"]?.ToString(),
            e["type"]?.ToString() ?? "Normal",
            e["reason"]?.ToString(),
            e["message"]?.ToString(),
            e["count"] is JsonValue count && count.TryGetValue<int>(out var number) ? number : e["series"]?["count"] is JsonValue series && series.TryGetValue<int>(out var seriesCount) ? seriesCount : 1,
            first,
            last,
            e["source"]?["component"]?.ToString() ?? e["reportingComponent"]?.ToString(),
            new InvolvedObjectView(involved?["kind"]?.ToString(), involved?["name"]?.ToString(), involved?["namespace"]?.ToString(), involved?["apiVersion"]?.ToString()));
    }

    /// <summary>Raised by a Flux controller, or about a Flux source, Kustomization or HelmRelease (Gyre's filter).</summary>
    public static bool IsFlux(KubernetesEventView view) =>
        (view.Source is { } source && FluxResourceTypes.Controllers.Any(controller => source.Contains(controller, StringComparison.Ordinal)))
        || (view.InvolvedObject.Kind is { } kind && FluxKinds.Contains(kind))
        || (FluxResourceTypes.ByKind(view.InvolvedObject.Kind) is not null && view.InvolvedObject.ApiVersion?.Contains("toolkit.fluxcd.io", StringComparison.Ordinal) == true);

    /// <summary>Newest first.</summary>
    public static IEnumerable<KubernetesEventView> NewestFirst(IEnumerable<KubernetesEventView> events) =>
        events.OrderByDescending(view => view.LastTimestamp ?? DateTimeOffset.MinValue).ThenBy(view => view.Name, StringComparer.Ordinal);

    private static DateTimeOffset? Time(JsonNode? node) =>
        node is JsonValue value && DateTimeOffset.TryParse(value.ToString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : null;
}
