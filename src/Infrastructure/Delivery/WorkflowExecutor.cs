using System.Globalization;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>How one node of a run ended: <c>completed</c>, <c>warning</c> (a Secret without values) or <c>failed</c>,
/// with its status for the canvas, what was applied and why it failed.</summary>
public sealed record NodeOutcome(string NodeId, string NodeType, string State, JsonObject Status, IReadOnlyList<AppliedObject> Applied, string? Message, string? Error, DateTimeOffset At)
{
    /// <summary>The run record's <c>node_states[nodeId]</c>.</summary>
    public JsonObject ToNodeState() => new()
    {
        ["status"] = State,
        ["result"] = Result(),
        ["timestamp"] = At.ToUnixTimeSeconds(),
        ["message"] = Message,
        ["error"] = Error,
    };

    /// <summary>The upstream's <c>ApplyResult</c>: <c>{applied_resources, errors, failed}</c>.</summary>
    public JsonObject Result() => new()
    {
        ["applied_resources"] = new JsonArray([.. Applied.Select(applied => (JsonNode)applied.ToJson())]),
        ["errors"] = new JsonArray([.. new[] { Error }.OfType<string>().Select(error => (JsonNode)error)]),
        ["failed"] = State == "failed",
    };
}

/// <summary>A run's outcome: every node that was reached, the log, and the error that stopped it.</summary>
public sealed record ExecutionResult(IReadOnlyList<NodeOutcome> Nodes, IReadOnlyList<string> Logs, string? Error, bool ClusterUnavailable)
{
    public bool Failed => Error is not null;
}

/// <summary>
/// Applies a workflow node by node in execution order (reference §6): renders each node, applies the image-pull secret
/// its image needs, server-side-applies its manifests, reads the object's status, logs as the upstream does
/// (<c>[15:04:05] Deployment default/web: created</c>) and reports each node's status as it goes. A Secret without
/// values is left alone (kept if it exists, otherwise a warning); a bound PVC is not re-applied (its spec is
/// immutable). The first node that fails stops the run.
/// </summary>
public sealed class WorkflowExecutor(KubernetesClient client, TimeProvider clock, Func<NodeOutcome, Task> nodeUpdated)
{
    private readonly List<string> _logs = [];

    public async Task<ExecutionResult> ExecuteAsync(
        WorkflowGraph graph, IReadOnlyList<WorkflowNode> order, RenderContext context, Func<string, string, JsonObject?> pullSecret, CancellationToken cancellationToken)
    {
        var outcomes = new List<NodeOutcome>();
        var appliedPullSecrets = new HashSet<string>(StringComparer.Ordinal);
        Log($"Execution order: [{string.Join(' ', order.Select(node => node.Id))}]");
        foreach (var node in order)
        {
            var rendered = ManifestRenderer.Render(graph, node, context);
            Log(rendered.NodeKind == ManifestRenderer.Service || rendered.NodeKind == ManifestRenderer.Ingress
                ? $"Executing {rendered.NodeKind} node: {node.Id} (connected to {graph.Sources(node.Id).Count()} source nodes)"
                : $"Executing {rendered.NodeKind} node: {node.Id}");
            NodeOutcome outcome;
            try
            {
                outcome = await ExecuteNodeAsync(node, rendered, pullSecret, appliedPullSecrets, cancellationToken);
            }
            catch (ApiException exception)
            {
                var message = Sanitize(exception.Message);
                Log($"{Title(rendered.NodeKind)} {rendered.Namespace}/{rendered.Name}: failed: {message}");
                outcome = new NodeOutcome(node.Id, node.Type, "failed", new JsonObject { ["state"] = "error", ["message"] = message }, [], null, message, clock.GetUtcNow());
                outcomes.Add(outcome);
                await nodeUpdated(outcome);
                var unavailable = exception.StatusCode == 503;
                Log($"Workflow execution failed at node {node.Id}");
                return new ExecutionResult(outcomes, _logs, $"node {node.Id} ({rendered.NodeKind} {rendered.Name}): {message}", unavailable);
            }

            outcomes.Add(outcome);
            await nodeUpdated(outcome);
        }

        Log("Workflow executed successfully");
        return new ExecutionResult(outcomes, _logs, null, false);
    }

    private async Task<NodeOutcome> ExecuteNodeAsync(
        WorkflowNode node, RenderedNode rendered, Func<string, string, JsonObject?> pullSecret, HashSet<string> appliedPullSecrets, CancellationToken cancellationToken)
    {
        var applied = new List<AppliedObject>();
        if (rendered.NodeKind == ManifestRenderer.Secret && rendered.Manifests.Count == 0)
        {
            var existing = await client.TryGetAsync(DeliveryKinds.Secrets, rendered.Namespace, rendered.Name, cancellationToken);
            if (existing is not null)
            {
                Log($"Secret {rendered.Namespace}/{rendered.Name}: exists (no new values provided)");
                return new NodeOutcome(node.Id, node.Type, "completed", new JsonObject { ["state"] = "created", ["message"] = "Secret exists in Kubernetes" }, [], "Secret exists in Kubernetes", null, clock.GetUtcNow());
            }

            Log($"Secret {rendered.Namespace}/{rendered.Name}: not created - no values provided");
            return new NodeOutcome(node.Id, node.Type, "warning", new JsonObject { ["state"] = "pending", ["message"] = "Secret not created - no values provided" }, [], "Secret not created - no values provided", null, clock.GetUtcNow());
        }

        if (ManifestRenderer.Workloads.Contains(rendered.NodeKind) && node.Data.Str("image") is { } image && pullSecret(image, rendered.Namespace) is { } secret)
        {
            var key = $"{rendered.Namespace}/{secret["metadata"]!["name"]}";
            if (appliedPullSecrets.Add(key))
            {
                var pulled = await ManifestApplier.ApplyAsync(client, secret, cancellationToken);
                Log($"Image pull secret {pulled.Namespace}/{pulled.Name}: {pulled.Operation}");
            }
        }

        JsonObject? live = null;
        foreach (var manifest in rendered.Manifests)
        {
            var kind = manifest["kind"]!.ToString();
            if (kind == "PersistentVolumeClaim"
                && await client.TryGetAsync(KubernetesResourceType.PersistentVolumeClaims, rendered.Namespace, rendered.Name, cancellationToken) is { } claim
                && claim["status"]?["phase"]?.ToString() == "Bound")
            {
                Log($"PersistentVolumeClaim {rendered.Namespace}/{rendered.Name}: already bound, left as it is");
                live = claim;
                applied.Add(new AppliedObject("v1", kind, rendered.Name, rendered.Namespace, "unchanged", claim["metadata"]?["uid"]?.ToString(), claim));
                continue;
            }

            var result = await ManifestApplier.ApplyAsync(client, manifest, cancellationToken);
            Log($"{result.Kind} {result.Namespace}/{result.Name}: {result.Operation}");
            applied.Add(result);
            live ??= result.Live;
        }

        var status = ObjectStatus.NodeStatus(applied[0].Kind, live ?? applied[0].Live);
        Log(StatusLine(applied[0].Kind, status));
        return new NodeOutcome(node.Id, node.Type, "completed", status, applied, status["message"]?.ToString(), null, clock.GetUtcNow());
    }

    private static string StatusLine(string kind, JsonObject status) => kind switch
    {
        "Deployment" or "StatefulSet" => $"{kind} status: {status["state"]}, Replicas: {status["readyReplicas"]}/{status["replicas"]}",
        "Service" => $"Service status: {status["state"]}, ClusterIP: {status["clusterIP"] ?? "pending"}",
        _ => $"{kind} status: {status["state"]}",
    };

    private static string Title(string nodeKind) => nodeKind.Length == 0 ? nodeKind : char.ToUpperInvariant(nodeKind[0]) + nodeKind[1..];

    /// <summary>Error text for the canvas: at most 500 characters (the client already scrubs credentials and URLs).</summary>
    private static string Sanitize(string message) => message.Length > 500 ? message[..500] : message;

    private void Log(string line) => _logs.Add($"[{clock.GetUtcNow().ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {line}");
}
