using System.Text.Json.Nodes;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// Topics and frames of delivery's live streams on the event hub (so a run on one replica reaches a stream held by
/// another): <c>delivery.workflow.&lt;id&gt;</c> carries <c>node_update</c>, <c>workflow_sync</c> and <c>closed</c> frames
/// shaped as the upstream's StreamEvent; builds, imports and resources have topics of their own.
/// </summary>
public static class DeliveryEvents
{
    public const string NodeUpdate = "node_update";
    public const string WorkflowSync = "workflow_sync";
    public const string RunStarted = "run_started";
    public const string RunCompleted = "run_completed";

    /// <summary>The workflow was archived or deleted: its streams end with <c>complete</c>.</summary>
    public const string Closed = "closed";

    public static string WorkflowTopic(Guid workflowId) => $"delivery.workflow.{workflowId:N}";

    public static string BuildTopic(Guid buildId) => $"delivery.build.{buildId:N}";

    public static string ImportTopic(Guid sessionId) => $"delivery.import.{sessionId:N}";

    public static string ResourceTopic(Guid resourceId) => $"delivery.resource.{resourceId:N}";

    /// <summary>How often delivery's streams send a heartbeat comment: <c>Delivery:Streams:HeartbeatSeconds</c> (15, at
    /// least 1).</summary>
    public static TimeSpan StreamHeartbeat(IConfiguration configuration) =>
        TimeSpan.FromSeconds(Math.Max(1, configuration.GetValue("Delivery:Streams:HeartbeatSeconds", 15)));

    /// <summary><c>{type, stream_key, event_type, timestamp, data}</c>, as the upstream's broadcaster sends it.</summary>
    public static JsonObject Frame(string streamType, Guid id, string eventType, JsonNode? data, DateTimeOffset timestamp) => new()
    {
        ["type"] = streamType,
        ["stream_key"] = $"{streamType}:{id}",
        ["event_type"] = eventType,
        ["timestamp"] = timestamp.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", System.Globalization.CultureInfo.InvariantCulture),
        ["data"] = data,
    };

    public static JsonObject WorkflowFrame(Guid workflowId, string eventType, JsonNode? data, DateTimeOffset timestamp) =>
        Frame("workflow", workflowId, eventType, data, timestamp);

    /// <summary>A node's status update: <c>{node_id, type, status}</c>.</summary>
    public static JsonObject NodeUpdateData(string nodeId, string nodeType, JsonObject status) => new()
    {
        ["node_id"] = nodeId,
        ["type"] = nodeType,
        ["status"] = status,
    };
}
