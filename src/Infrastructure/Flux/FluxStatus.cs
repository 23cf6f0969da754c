using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Flux;

/// <summary>The Ready condition of a Flux object.</summary>
public sealed record FluxReadiness(string Status, string? Reason, string? Message, DateTimeOffset? LastTransitionTime);

/// <summary>
/// Reading a Flux object's state: Gyre's health classification (<c>healthy</c>, <c>failed</c>, <c>progressing</c>,
/// <c>suspended</c>, <c>unknown</c>), the Ready condition, and the revision it is at.
/// </summary>
public static class FluxStatus
{
    private static readonly string[] ProgressingReasons = ["Progressing", "ProgressingWithRetry", "DependencyNotReady", "ReconciliationInProgress"];

    /// <summary>Gyre's <c>getResourceHealth</c>, in its order of rules.</summary>
    public static string Health(JsonObject obj)
    {
        if (obj["spec"]?["suspend"] is JsonValue suspend && suspend.TryGetValue<bool>(out var suspended) && suspended)
        {
            return "suspended";
        }

        var conditions = Conditions(obj);
        if (conditions.Count == 0)
        {
            return "unknown";
        }

        if (conditions.Any(condition => condition.Type is "Stalled" or "Failed" && condition.Status == "True"))
        {
            return "failed";
        }

        if (Number(obj["status"]?["observedGeneration"]) is { } observed && Number(obj["metadata"]?["generation"]) is { } generation && observed < generation)
        {
            return "progressing";
        }

        var decisive = new[] { "Ready", "Healthy", "Succeeded", "Available" }
            .Select(type => conditions.FirstOrDefault(condition => condition.Type == type))
            .FirstOrDefault(condition => condition is not null);
        if (decisive is not null)
        {
            return decisive.Status switch
            {
                "True" => "healthy",
                "False" when ProgressingReasons.Contains(decisive.Reason) => "progressing",
                "False" => "failed",
                _ => "progressing",
            };
        }

        if (conditions.Any(condition => condition.Type == "Reconciling" && condition.Status == "True"))
        {
            return "progressing";
        }

        return conditions.Any(condition => condition.Type is "Validated" or "Valid" && condition.Status == "True") ? "healthy" : "unknown";
    }

    /// <summary>The Ready condition, or null when there is none.</summary>
    public static FluxReadiness? Ready(JsonObject obj) =>
        Conditions(obj).FirstOrDefault(condition => condition.Type == "Ready") is { } ready
            ? new FluxReadiness(ready.Status, ready.Reason, ready.Message, ready.LastTransitionTime)
            : null;

    /// <summary>The revision the object is at: a source's artifact revision, a Kustomization's last applied (else
    /// attempted) revision, a HelmRelease's last attempted revision, an image policy's latest tag.</summary>
    public static string? Revision(JsonObject obj)
    {
        var status = obj["status"] as JsonObject;
        return Text(status?["artifact"]?["revision"])
            ?? Text(status?["lastAppliedRevision"])
            ?? Text(status?["lastAttemptedRevision"])
            ?? Text(status?["latestRef"]?["tag"])
            ?? Text(status?["latestImage"])
            ?? Text(status?["lastPushCommit"]);
    }

    public static bool IsSuspended(JsonObject obj) => obj["spec"]?["suspend"] is JsonValue suspend && suspend.TryGetValue<bool>(out var value) && value;

    private static List<Condition> Conditions(JsonObject obj) =>
    [
        .. (obj["status"]?["conditions"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .Select(condition => new Condition(
                Text(condition["type"]) ?? string.Empty,
                Text(condition["status"]) ?? "Unknown",
                Text(condition["reason"]),
                Text(condition["message"]),
                DateTimeOffset.TryParse(Text(condition["lastTransitionTime"]), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var at) ? at : null)),
    ];

    private static long? Number(JsonNode? node) => node is JsonValue value && value.TryGetValue<long>(out var number) ? number : null;

    private static string? Text(JsonNode? node) => node is JsonValue value && value.ToString() is { Length: > 0 } text ? text : null;

    private sealed record Condition(string Type, string Status, string? Reason, string? Message, DateTimeOffset? LastTransitionTime);
}
