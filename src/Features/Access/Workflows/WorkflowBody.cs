using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Features.Access.Workflows;

/// <summary>An approval workflow as the workflow routes return it (seed 003, snake_case).</summary>
public sealed record WorkflowBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("min_approvers")] long MinApprovers,
    [property: JsonPropertyName("approver_role_id")] Guid? ApproverRoleId,
    [property: JsonPropertyName("wrap_ttl_created_seconds")] long WrapTtlCreatedSeconds,
    [property: JsonPropertyName("wrap_ttl_approved_seconds")] long WrapTtlApprovedSeconds,
    [property: JsonPropertyName("wrap_ttl_claimed_seconds")] long WrapTtlClaimedSeconds,
    [property: JsonPropertyName("request_ttl_seconds")] long RequestTtlSeconds,
    [property: JsonPropertyName("require_justification")] bool RequireJustification,
    [property: JsonPropertyName("allow_self_approval")] bool AllowSelfApproval,
    [property: JsonPropertyName("notification_channels")] JsonElement NotificationChannels,
    [property: JsonPropertyName("is_default")] bool IsDefault,
    [property: JsonPropertyName("enabled")] bool Enabled,
    [property: JsonPropertyName("is_system")] bool IsSystem,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt);

/// <summary>A workflow row as Dapper reads it.</summary>
internal sealed class WorkflowRow
{
    public const string Columns = """
        id, name, description, min_approvers, approver_role_id, wrap_ttl_created_seconds, wrap_ttl_approved_seconds,
        wrap_ttl_claimed_seconds, request_ttl_seconds, require_justification, allow_self_approval,
        notification_channels::text AS notification_channels, is_default, enabled, is_system, created_at, updated_at
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public long MinApprovers { get; init; }

    public Guid? ApproverRoleId { get; init; }

    public long WrapTtlCreatedSeconds { get; init; }

    public long WrapTtlApprovedSeconds { get; init; }

    public long WrapTtlClaimedSeconds { get; init; }

    public long RequestTtlSeconds { get; init; }

    public bool RequireJustification { get; init; }

    public bool AllowSelfApproval { get; init; }

    public string NotificationChannels { get; init; } = "[]";

    public bool IsDefault { get; init; }

    public bool Enabled { get; init; }

    public bool IsSystem { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    /// <summary>Votes needed to approve: <c>min_approvers</c>, at least one (0 never means auto-approve).</summary>
    public long Threshold => Math.Max(1, MinApprovers);

    public WorkflowBody ToBody() => new(
        Id, Name, Description, MinApprovers, ApproverRoleId, WrapTtlCreatedSeconds, WrapTtlApprovedSeconds, WrapTtlClaimedSeconds,
        RequestTtlSeconds, RequireJustification, AllowSelfApproval, AccessJson.Parse(NotificationChannels, "[]"), IsDefault, Enabled, IsSystem,
        CreatedAt, UpdatedAt);
}
