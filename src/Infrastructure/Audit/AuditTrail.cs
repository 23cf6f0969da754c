using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Security;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Audit;

public enum AuditResult
{
    Success,
    Failure,
    Denied,
}

/// <summary>One audit row. Actor fields default to the request's caller (or, on agent routes, the agent).</summary>
public sealed record AuditEntry(
    string Action,
    string? ResourceType = null,
    string? ResourceId = null,
    string? ResourceName = null,
    object? Metadata = null,
    AuditResult Result = AuditResult.Success)
{
    public string? ActorType { get; init; }

    public Guid? ActorId { get; init; }

    public string? ActorName { get; init; }

    /// <summary>The team the action concerns, when it concerns one (seed 004's <c>teamId</c>).</summary>
    public Guid? TeamId { get; init; }
}

/// <summary>Marks a command that is not an action worth auditing (telemetry ingest at high volume), with the reason.</summary>
[AttributeUsage(AttributeTargets.Class)]
public sealed class NotAuditedAttribute(string reason) : Attribute
{
    public string Reason { get; } = reason;
}

/// <summary>
/// The audit log's writer. Slices record what they did; the rows are written inside the command's own
/// transaction just before it commits, so an action and its audit row land together or not at all. A command that
/// recorded nothing still gets one row named after it (unless marked <see cref="NotAuditedAttribute"/>).
/// Failures that roll back (a refused sign-in) use <see cref="WriteNowAsync"/>. Metadata keys that name secrets are
/// redacted before anything is stored.
/// </summary>
public sealed class AuditTrail(RequestContext request, IServiceProvider services, TimeProvider clock) : ITransactionParticipant
{
    private const string Insert = """
        INSERT INTO identity.audit_log
            (id, occurred_at, actor_type, actor_id, actor_name, action, resource_type, resource_id, resource_name,
             result, ip_address, user_agent, request_id, correlation_id, team_id, metadata)
        VALUES
            (@Id, @OccurredAt, @ActorType, @ActorId, @ActorName, @Action, @ResourceType, @ResourceId, @ResourceName,
             @Result, @IpAddress, @UserAgent, @RequestId, @CorrelationId, @TeamId, CAST(@Metadata AS jsonb))
        """;

    private static readonly string[] SecretWords =
        ["password", "passwd", "secret", "token", "credential", "kubeconfig", "authorization", "cookie", "privatekey", "apikey"];

    private readonly List<AuditEntry> _pending = [];

    /// <summary>Ties together the rows of one flow (a request's life in access); new per scope unless set.</summary>
    public Guid CorrelationId { get; set; } = Guid.CreateVersion7();

    public void Record(AuditEntry entry) => _pending.Add(entry);

    public void Record(string action, string? resourceType = null, string? resourceId = null, string? resourceName = null, object? metadata = null) =>
        _pending.Add(new AuditEntry(action, resourceType, resourceId, resourceName, metadata));

    /// <summary>Writes at once on a connection of its own (survives the request's rollback).</summary>
    public async Task WriteNowAsync(AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        await connection.ExecuteAsync(new CommandDefinition(Insert, Row(entry), cancellationToken: cancellationToken));
    }

    public async Task BeforeCommitAsync(object request, DbSession session, CancellationToken cancellationToken)
    {
        if (_pending.Count == 0 && !Attribute.IsDefined(request.GetType(), typeof(NotAuditedAttribute)))
        {
            _pending.Add(new AuditEntry(ActionNameOf(request.GetType())));
        }

        foreach (var entry in _pending)
        {
            await session.ExecuteAsync(Insert, Row(entry), cancellationToken);
        }

        _pending.Clear();
    }

    /// <summary>Replaces the value of every key that names a secret, at any depth.</summary>
    public static string RedactedJson(object? metadata)
    {
        if (metadata is null)
        {
            return "{}";
        }

        var node = metadata as JsonNode ?? JsonSerializer.SerializeToNode(metadata, JsonSerializerOptions.Web);
        Redact(node);
        return node?.ToJsonString() ?? "{}";
    }

    private object Row(AuditEntry entry)
    {
        var caller = request.Caller;
        var agent = caller is null ? request.Agent : null;
        return new
        {
            Id = Guid.CreateVersion7(),
            OccurredAt = clock.GetUtcNow().UtcDateTime,
            ActorType = entry.ActorType ?? (caller is not null ? "user" : agent is not null ? "agent" : "anonymous"),
            ActorId = entry.ActorId ?? caller?.UserId ?? agent?.Id,
            ActorName = entry.ActorName ?? caller?.Username ?? agent?.Name,
            entry.Action,
            entry.ResourceType,
            entry.ResourceId,
            entry.ResourceName,
            Result = entry.Result.ToString().ToLowerInvariant(),
            request.IpAddress,
            request.UserAgent,
            request.RequestId,
            CorrelationId,
            entry.TeamId,
            Metadata = RedactedJson(entry.Metadata),
        };
    }

    private static void Redact(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var key in obj.Select(pair => pair.Key).ToList())
                {
                    if (IsSecretName(key))
                    {
                        obj[key] = "[REDACTED]";
                    }
                    else
                    {
                        Redact(obj[key]);
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array)
                {
                    Redact(item);
                }

                break;
        }
    }

    private static bool IsSecretName(string key)
    {
        var normalised = key.Replace("_", string.Empty, StringComparison.Ordinal).Replace("-", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
        return normalised is "key" or "value" || SecretWords.Any(word => normalised.Contains(word, StringComparison.Ordinal));
    }

    private static string ActionNameOf(Type type) => type.DeclaringType is { } slice ? slice.Name : type.Name;
}
