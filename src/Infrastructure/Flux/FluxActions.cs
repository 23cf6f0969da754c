using System.Globalization;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Flux;

/// <summary>
/// The Kubernetes calls behind Flux actions, exactly as Gyre sends them (reference <c>gyre.md</c> §6): reconcile is a
/// JSON merge patch of <c>reconcile.fluxcd.io/requestedAt</c>; suspend and resume a JSON patch adding
/// <c>/spec/suspend</c>; delete a plain DELETE. Shared by the single and the batch routes.
/// </summary>
public static class FluxActions
{
    public const string RequestedAtAnnotation = "reconcile.fluxcd.io/requestedAt";
    public const string RolledBackFromAnnotation = "gyre.io/rolledBackFrom";
    public const string RolledBackAtAnnotation = "gyre.io/rolledBackAt";

    /// <summary>JavaScript's <c>toISOString()</c> form, as Flux and Gyre write the annotation.</summary>
    public static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    public static KubernetesPatch ReconcilePatch(DateTimeOffset now) => KubernetesPatch.Merge(new JsonObject
    {
        ["metadata"] = new JsonObject { ["annotations"] = new JsonObject { [RequestedAtAnnotation] = Timestamp(now) } },
    });

    public static KubernetesPatch SuspendPatch(bool suspend) =>
        KubernetesPatch.Json(new JsonArray(new JsonObject { ["op"] = "add", ["path"] = "/spec/suspend", ["value"] = suspend }));

    public static Task<JsonObject> ReconcileAsync(KubernetesClient client, FluxResourceType type, string @namespace, string name, DateTimeOffset now, CancellationToken cancellationToken) =>
        client.PatchAsync(type.Resource, @namespace, name, ReconcilePatch(now), cancellationToken);

    public static Task<JsonObject> SetSuspendedAsync(KubernetesClient client, FluxResourceType type, string @namespace, string name, bool suspend, CancellationToken cancellationToken) =>
        client.PatchAsync(type.Resource, @namespace, name, SuspendPatch(suspend), cancellationToken);

    public static Task<JsonObject> DeleteAsync(KubernetesClient client, FluxResourceType type, string @namespace, string name, CancellationToken cancellationToken) =>
        client.DeleteAsync(type.Resource, @namespace, name, cancellationToken);

    /// <summary>
    /// The rollback merge patch: the snapshot's spec, plus <c>null</c> for every field the live spec has that the
    /// snapshot lacks (so fields added since are removed, which Gyre's plain merge missed), and the annotations that
    /// request a reconcile and record the rollback.
    /// </summary>
    public static JsonObject RollbackPatch(JsonObject snapshot, JsonObject? liveSpec, string fromRevision, DateTimeOffset now)
    {
        var spec = (JsonObject)snapshot.DeepClone();
        RemoveAdditions(spec, liveSpec);
        return new JsonObject
        {
            ["spec"] = spec,
            ["metadata"] = new JsonObject
            {
                ["annotations"] = new JsonObject
                {
                    [RequestedAtAnnotation] = Timestamp(now),
                    [RolledBackFromAnnotation] = fromRevision,
                    [RolledBackAtAnnotation] = Timestamp(now),
                },
            },
        };
    }

    private static void RemoveAdditions(JsonObject target, JsonObject? live)
    {
        if (live is null)
        {
            return;
        }

        foreach (var (key, liveValue) in live)
        {
            if (!target.ContainsKey(key))
            {
                target[key] = null;
            }
            else if (target[key] is JsonObject targetChild && liveValue is JsonObject liveChild)
            {
                RemoveAdditions(targetChild, liveChild);
            }
        }
    }
}
