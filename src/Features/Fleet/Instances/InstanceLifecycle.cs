using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;

namespace Capstan.Features.Fleet.Instances;

/// <summary>
/// The instance lifecycle state machine (reference sindri.md §9.1, the upstream's current action table) as pure
/// database transitions: each is conditional on the status it leaves, writes the instance event, and raises it on the
/// event hub when the transaction commits. An action the current status does not allow is a 409.
/// </summary>
internal static class InstanceLifecycle
{
    public static readonly IReadOnlyDictionary<string, LifecycleAction> Actions = new Dictionary<string, LifecycleAction>(StringComparer.OrdinalIgnoreCase)
    {
        ["suspend"] = new("suspend", "suspended", ["RUNNING"], "SUSPENDED", "SUSPEND"),
        ["resume"] = new("resume", "resumed", ["SUSPENDED", "STOPPED", "ERROR"], "RUNNING", "RESUME"),
        ["destroy"] = new("destroy", "destroyed", ["RUNNING", "SUSPENDED", "STOPPED", "ERROR", "DESTROYING"], "DESTROYED", "DESTROY"),
        // Deregistering (DELETE) keeps the record and stops reporting: the upstream's destroy without teardown.
        ["deregister"] = new("deregister", "deregistered", ["RUNNING", "SUSPENDED", "ERROR", "DESTROYING", "UNKNOWN"], "STOPPED", "DESTROY"),
    };

    /// <summary>Statuses a volume backup may be taken in.</summary>
    public static readonly string[] BackupFrom = ["RUNNING", "SUSPENDED"];

    /// <summary>What <c>GET /instances/{id}/lifecycle</c> lists for a status.</summary>
    public static IReadOnlyList<string> AvailableActions(string status) => status switch
    {
        "RUNNING" => ["suspend", "destroy", "backup"],
        "SUSPENDED" => ["resume", "destroy", "backup"],
        "STOPPED" => ["resume", "destroy"],
        "ERROR" => ["resume", "destroy"],
        "DESTROYING" => ["destroy"],
        _ => [],
    };

    private const string Current = $"""
        SELECT i.id, i.name, i.status FROM fleet.instances i
        WHERE i.id = @Id AND {FleetVisibility.Predicate}
        FOR UPDATE
        """;

    private const string Move = """
        UPDATE fleet.instances
        SET status = @To, updated_at = @Now,
            agent_connection_id = CASE WHEN @To IN ('DESTROYED', 'STOPPED') THEN NULL ELSE agent_connection_id END
        WHERE id = @Id;
        INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, actor_id, metadata)
        VALUES (@EventId, @Id, @EventType, @Now, @ActorId, CAST(@Metadata AS jsonb));
        """;

    /// <summary>Applies <paramref name="action"/> to one instance: the result, or the reason it was refused (unknown
    /// or invisible instance → 404, status not allowing it → 409), never throwing for either.</summary>
    public static async Task<Outcome> TryApplyAsync(
        DbSession db, EventHub hub, FleetVisibility.TeamScope scope, Guid id, LifecycleAction action, Guid actorId, DateTime now,
        IReadOnlyDictionary<string, object?>? extraMetadata, CancellationToken cancellationToken)
    {
        var current = await db.QuerySingleOrDefaultAsync<Row>(Current, new { Id = id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
        if (current is null)
        {
            return new Outcome(id, null, null, null, 404, $"Instance '{id}' not found");
        }

        if (!action.From.Contains(current.Status, StringComparer.Ordinal))
        {
            return new Outcome(id, current.Name, current.Status, null, 409,
                $"Instance '{current.Name}' cannot be {action.PastTense}: current status is {current.Status}");
        }

        var metadata = new Dictionary<string, object?>(extraMetadata ?? new Dictionary<string, object?>())
        {
            ["triggered_by"] = "api",
            ["action"] = action.Name,
            ["from"] = current.Status,
            ["to"] = action.To,
        };
        var json = System.Text.Json.JsonSerializer.Serialize(metadata);
        await db.ExecuteAsync(
            Move,
            new { Id = id, action.To, Now = now, EventId = Guid.CreateVersion7(), action.EventType, ActorId = actorId, Metadata = json },
            cancellationToken);
        await hub.PublishAsync(db, $"fleet.instances.{id}", new { eventType = action.EventType, instanceId = id, status = action.To, metadata, ts = now }, cancellationToken);
        if (action.To is "DESTROYED" or "STOPPED")
        {
            // Whichever replica holds the instance's agent socket closes it.
            await hub.PublishAsync(db, $"fleet.agent.{id}", new { kind = "close", reason = $"Instance {action.PastTense}" }, cancellationToken);
        }

        return new Outcome(id, current.Name, current.Status, action.To, 200, null);
    }

    /// <summary>Like <see cref="TryApplyAsync"/>, throwing the 404 or 409.</summary>
    public static async Task<Outcome> ApplyAsync(
        DbSession db, EventHub hub, FleetVisibility.TeamScope scope, Guid id, LifecycleAction action, Guid actorId, DateTime now,
        IReadOnlyDictionary<string, object?>? extraMetadata, CancellationToken cancellationToken)
    {
        var outcome = await TryApplyAsync(db, hub, scope, id, action, actorId, now, extraMetadata, cancellationToken);
        return outcome.Status switch
        {
            404 => throw new NotFoundException(outcome.Error!),
            409 => throw new ConflictException(outcome.Error!),
            _ => outcome,
        };
    }

    public sealed record LifecycleAction(string Name, string PastTense, string[] From, string To, string EventType);

    /// <summary>What happened to one instance: <see cref="Status"/> 200 when it moved to <see cref="NewStatus"/>.</summary>
    public sealed record Outcome(Guid Id, string? Name, string? PreviousStatus, string? NewStatus, int Status, string? Error)
    {
        public bool Succeeded => Status == 200;
    }

    private sealed record Row(Guid Id, string Name, string Status);
}
