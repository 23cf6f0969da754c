using System.Text.Json.Nodes;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Flux;

/// <summary>An item of a batch as the caller sent it (<c>unknown</c> where a field was unusable).</summary>
public sealed record FluxBatchItem(string Type, string Namespace, string Name);

public sealed record FluxBatchResult(FluxBatchItem Resource, bool Success, string Message);

public sealed record FluxBatchSummary(int Total, int Successful, int Failed);

/// <summary>Gyre's batch response: per-item results and a summary; always 200.</summary>
public sealed record FluxBatchResponse(IReadOnlyList<FluxBatchResult> Results, FluxBatchSummary Summary);

/// <summary>
/// Runs one Flux action over the items of a batch (reference <c>gyre.md</c> §7), one after the other: each item is
/// validated (non-empty strings, namespace and name rules, a known type by plural or Kind), checked against the
/// caller's Flux RBAC for the action on that item, then acted on; a failing item does not stop the
/// others. Failure messages: <c>Permission denied</c>, the validation message, or the cluster's (scrubbed) message.
/// </summary>
public static class FluxBatch
{
    public const int MaxItems = 100;

    /// <summary>The items array of a batch body, or a 400 saying what is wrong.</summary>
    public static JsonArray Items(JsonObject? body)
    {
        if (body?["resources"] is not JsonArray items)
        {
            throw BadRequestException.ForField("resources", "Missing or invalid resources array in request body");
        }

        return items.Count > MaxItems
            ? throw BadRequestException.ForField("resources", $"Batch size exceeded: maximum {MaxItems} resources allowed per request")
            : items;
    }

    public static async Task<FluxBatchResponse> RunAsync(
        FluxSession session,
        JsonArray items,
        FluxAction action,
        Func<FluxResourceType, string, string, Task<string>> act,
        CancellationToken cancellationToken)
    {
        var results = new List<FluxBatchResult>();
        foreach (var node in items)
        {
            var type = Text(node, "type");
            var ns = Text(node, "namespace");
            var name = Text(node, "name");
            var echo = new FluxBatchItem(type ?? "unknown", ns ?? "unknown", name ?? "unknown");
            cancellationToken.ThrowIfCancellationRequested();
            results.Add(await RunOneAsync(session, echo, type, ns, name, action, act));
        }

        var successful = results.Count(result => result.Success);
        return new FluxBatchResponse(results, new FluxBatchSummary(results.Count, successful, results.Count - successful));
    }

    private static async Task<FluxBatchResult> RunOneAsync(
        FluxSession session, FluxBatchItem echo, string? typeName, string? ns, string? name, FluxAction action, Func<FluxResourceType, string, string, Task<string>> act)
    {
        if (typeName is null || ns is null || name is null)
        {
            return new FluxBatchResult(echo, false, "Each resource needs type, namespace and name as non-empty strings");
        }

        if (!FluxGateway.IsNamespace(ns))
        {
            return new FluxBatchResult(echo, false, FluxGateway.NamespaceMessage);
        }

        if (!FluxGateway.IsName(name))
        {
            return new FluxBatchResult(echo, false, FluxGateway.NameMessage);
        }

        if (FluxResourceTypes.Resolve(typeName) is not { } type)
        {
            return new FluxBatchResult(echo, false, $"Invalid resource type: {typeName}");
        }

        if (!session.Access.Allows(action, type.Kind, ns, session.Target))
        {
            return new FluxBatchResult(echo, false, "Permission denied");
        }

        try
        {
            return new FluxBatchResult(echo, true, await act(type, ns, name));
        }
        catch (KubernetesApiException exception)
        {
            return new FluxBatchResult(echo, false, exception.Message);
        }
    }

    private static string? Text(JsonNode? item, string field) =>
        item is JsonObject obj && obj[field] is JsonValue value && value.TryGetValue<string>(out var text) && !string.IsNullOrWhiteSpace(text) ? text.Trim() : null;
}
