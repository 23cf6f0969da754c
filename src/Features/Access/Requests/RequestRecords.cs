using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Access.Requests;

/// <summary>An access request as every request route returns it (seed 003 RequestBody, snake_case), with its votes.
/// It never carries a secret value: patch values live only in wraps.</summary>
public sealed record RequestBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("requester_id")] Guid RequesterId,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("justification")] string Justification,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("workflow_id")] Guid WorkflowId,
    [property: JsonPropertyName("policy_id")] Guid? PolicyId,
    [property: JsonPropertyName("project_id")] Guid? ProjectId,
    [property: JsonPropertyName("environment")] string? Environment,
    [property: JsonPropertyName("environment_id")] Guid? EnvironmentId,
    [property: JsonPropertyName("target_provider_type")] string TargetProviderType,
    [property: JsonPropertyName("target_provider_config")] JsonElement TargetProviderConfig,
    [property: JsonPropertyName("target_secret_ref")] string TargetSecretRef,
    [property: JsonPropertyName("target_keys")] IReadOnlyList<string> TargetKeys,
    [property: JsonPropertyName("target_scope")] TargetScope TargetScope,
    [property: JsonPropertyName("direct_reveal")] bool DirectReveal,
    [property: JsonPropertyName("job_id")] Guid? JobId,
    [property: JsonPropertyName("reject_reason")] string? RejectReason,
    [property: JsonPropertyName("expires_at")] DateTime ExpiresAt,
    [property: JsonPropertyName("decided_at")] DateTime? DecidedAt,
    [property: JsonPropertyName("completed_at")] DateTime? CompletedAt,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt,
    [property: JsonPropertyName("approvals")] IReadOnlyList<ApprovalBody> Approvals);

/// <summary>Upstream's <c>target_scope</c>: always both keys, empty strings when unset.</summary>
public sealed record TargetScope(
    [property: JsonPropertyName("project_id")] string ProjectId,
    [property: JsonPropertyName("environment")] string Environment);

public sealed record ApprovalBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("approver_id")] Guid ApproverId,
    [property: JsonPropertyName("decision")] string Decision,
    [property: JsonPropertyName("comment")] string? Comment,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt);

/// <summary>A request row as Dapper reads it.</summary>
internal sealed class RequestRow
{
    public const string Columns = """
        r.id, r.requester_id, r.type, r.justification, r.status, r.workflow_id, r.policy_id, r.project_id, r.environment,
        r.environment_id, r.target_provider_type, r.target_provider_config::text AS target_provider_config, r.target_secret_ref,
        r.target_keys::text AS target_keys, r.direct_reveal, r.job_id, r.reject_reason, r.expires_at, r.decided_at,
        r.completed_at, r.created_at, r.updated_at
        """;

    public Guid Id { get; init; }

    public Guid RequesterId { get; init; }

    public string Type { get; init; } = string.Empty;

    public string Justification { get; init; } = string.Empty;

    public string Status { get; init; } = string.Empty;

    public Guid WorkflowId { get; init; }

    public Guid? PolicyId { get; init; }

    public Guid? ProjectId { get; init; }

    public string? Environment { get; init; }

    public Guid? EnvironmentId { get; init; }

    public string TargetProviderType { get; init; } = string.Empty;

    public string TargetProviderConfig { get; init; } = "{}";

    public string TargetSecretRef { get; init; } = string.Empty;

    public string TargetKeys { get; init; } = "[]";

    public bool DirectReveal { get; init; }

    public Guid? JobId { get; init; }

    public string? RejectReason { get; init; }

    public DateTime ExpiresAt { get; init; }

    public DateTime? DecidedAt { get; init; }

    public DateTime? CompletedAt { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    /// <summary>The scope permissions are checked in: the request's project and environment name (when set).</summary>
    public IReadOnlyDictionary<string, string> Scope => RequestRecords.ScopeOf(ProjectId, Environment);

    public RequestBody ToBody(IReadOnlyList<ApprovalBody> approvals) => new(
        Id, RequesterId, Type, Justification, Status, WorkflowId, PolicyId, ProjectId, Environment, EnvironmentId, TargetProviderType,
        AccessJson.Parse(TargetProviderConfig), TargetSecretRef, AccessJson.StringArray(TargetKeys),
        new TargetScope(ProjectId?.ToString() ?? string.Empty, Environment ?? string.Empty), DirectReveal, JobId, RejectReason, ExpiresAt,
        DecidedAt, CompletedAt, CreatedAt, UpdatedAt, approvals);
}

/// <summary>Loading, scoping and showing requests: shared by the request routes (each keeps its own decisions).</summary>
internal static class RequestRecords
{
    public const string ById = $"SELECT {RequestRow.Columns} FROM access.requests r WHERE r.id = @Id";

    /// <summary>Locks the row: every vote, cancel and transition of one request runs one after another.</summary>
    public const string ByIdForUpdate = $"SELECT {RequestRow.Columns} FROM access.requests r WHERE r.id = @Id FOR UPDATE";

    private const string Approvals = """
        SELECT id, request_id, approver_id, decision, comment, created_at
        FROM access.approvals WHERE request_id = ANY(@Ids)
        ORDER BY created_at, id
        """;

    public static IReadOnlyDictionary<string, string> ScopeOf(Guid? projectId, string? environment)
    {
        var scope = new Dictionary<string, string>(StringComparer.Ordinal);
        if (projectId is { } project)
        {
            scope["project_id"] = project.ToString();
        }

        if (!string.IsNullOrEmpty(environment))
        {
            scope["environment"] = environment;
        }

        return scope;
    }

    /// <summary>Who sees a request: its requester, and approvers whose <c>secret.approve</c> covers its scope (globally
    /// or through a project grant). Everyone else gets a 404.</summary>
    public static bool CanSee(Caller caller, RequestRow row) =>
        row.RequesterId == caller.UserId || CanApprove(caller, row);

    public static bool CanApprove(Caller caller, RequestRow row) =>
        row.ProjectId is null ? caller.Has(Permissions.SecretApprove) : caller.Has(Permissions.SecretApprove, row.Scope);

    public static async Task<RequestBody> ToBodyAsync(DbSession db, RequestRow row, CancellationToken cancellationToken) =>
        (await ToBodiesAsync(db, [row], cancellationToken))[0];

    public static async Task<List<RequestBody>> ToBodiesAsync(DbSession db, IReadOnlyList<RequestRow> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0)
        {
            return [];
        }

        var votes = (await db.QueryAsync<ApprovalRow>(Approvals, new { Ids = rows.Select(row => row.Id).ToArray() }, cancellationToken))
            .ToLookup(vote => vote.RequestId);
        return [.. rows.Select(row => row.ToBody([.. votes[row.Id].Select(vote => new ApprovalBody(vote.Id, vote.ApproverId, vote.Decision, vote.Comment, vote.CreatedAt))]))];
    }

    private sealed class ApprovalRow
    {
        public Guid Id { get; init; }

        public Guid RequestId { get; init; }

        public Guid ApproverId { get; init; }

        public string Decision { get; init; } = string.Empty;

        public string? Comment { get; init; }

        public DateTime CreatedAt { get; init; }
    }
}
