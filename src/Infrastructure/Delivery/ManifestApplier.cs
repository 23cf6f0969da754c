using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>An object after apply: what it is, whether it was created, updated or already as rendered, and the live
/// object the API server answered (its status included).</summary>
public sealed record AppliedObject(string ApiVersion, string Kind, string Name, string Namespace, string Operation, string? Uid, JsonObject Live)
{
    /// <summary>The upstream's <c>AppliedResource</c> JSON: <c>{kind, name, namespace, operation, uid}</c>.</summary>
    public JsonObject ToJson() => new()
    {
        ["api_version"] = ApiVersion,
        ["kind"] = Kind,
        ["name"] = Name,
        ["namespace"] = Namespace,
        ["operation"] = Operation,
        ["uid"] = Uid,
    };
}

/// <summary>
/// Applies rendered manifests with server-side apply (field manager <c>kubeorch</c>, forcing ownership of the fields it
/// renders, so a change made by hand in the cluster is put back by the next run) and deletes them again. Custom
/// resources are found through discovery.
/// </summary>
public static class ManifestApplier
{
    public const string FieldManager = "kubeorch";

    public static async Task<AppliedObject> ApplyAsync(KubernetesClient client, JsonObject manifest, CancellationToken cancellationToken, string fieldManager = FieldManager)
    {
        var apiVersion = manifest["apiVersion"]?.ToString() ?? throw new ArgumentException("The manifest has no apiVersion", nameof(manifest));
        var kind = manifest["kind"]?.ToString() ?? throw new ArgumentException("The manifest has no kind", nameof(manifest));
        var name = manifest["metadata"]?["name"]?.ToString() ?? throw new ArgumentException("The manifest has no name", nameof(manifest));
        var type = await DeliveryKinds.ResolveAsync(client, apiVersion, kind, cancellationToken);
        var ns = type.Namespaced ? manifest["metadata"]?["namespace"]?.ToString() ?? "default" : null;
        var existing = await client.TryGetAsync(type, ns, name, cancellationToken);
        var live = await client.PatchAsync(type, ns, name, KubernetesPatch.Apply(manifest), cancellationToken, new WriteOptions { FieldManager = fieldManager, Force = true });
        var operation = existing is null ? "created"
            : existing["metadata"]?["resourceVersion"]?.ToString() == live["metadata"]?["resourceVersion"]?.ToString() ? "unchanged"
            : "updated";
        return new AppliedObject(apiVersion, kind, name, ns ?? string.Empty, operation, live["metadata"]?["uid"]?.ToString(), live);
    }

    /// <summary>Deletes an object (pods of workloads go with it); false when it was already gone.</summary>
    public static async Task<bool> DeleteAsync(KubernetesClient client, string apiVersion, string kind, string? @namespace, string name, CancellationToken cancellationToken)
    {
        var type = await DeliveryKinds.ResolveAsync(client, apiVersion, kind, cancellationToken);
        try
        {
            await client.DeleteAsync(type, type.Namespaced ? @namespace : null, name, cancellationToken, new DeleteOptions { PropagationPolicy = "Background" });
            return true;
        }
        catch (KubernetesApiException exception) when (exception.IsNotFound)
        {
            return false;
        }
    }
}
