using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Features.Fleet.Metrics;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Instances;

/// <summary>
/// <c>POST /api/v1/instances/{id}/heartbeat</c>: an addition beyond seed 004 for agents that cannot hold the
/// <c>/ws/agent</c> socket; the socket's <c>heartbeat</c> messages arrive here too. Stores the liveness sample (and an
/// optional full <c>metrics</c> snapshot), moves the instance's <c>lastHeartbeatAt</c>, takes extension and process
/// reports, and brings an ERROR, UNKNOWN or STOPPED instance back to RUNNING (HEARTBEAT_RECOVERED / CONNECT event).
/// A destroyed instance is a 409.
/// </summary>
public static class RecordHeartbeat
{
    public sealed record Body
    {
        public double? CpuPercent { get; init; }

        public long? MemoryUsed { get; init; }

        public long? MemoryTotal { get; init; }

        public long? DiskUsed { get; init; }

        public long? DiskTotal { get; init; }

        public long? Uptime { get; init; }

        public long? UptimeSeconds { get; init; }

        public string? Distro { get; init; }

        public string[]? Extensions { get; init; }

        public ExtensionState[]? ExtensionStates { get; init; }

        public string? AgentVersion { get; init; }

        public ProcessSample[]? Processes { get; init; }

        public MetricSample? Metrics { get; init; }

        public DateTimeOffset? Timestamp { get; init; }
    }

    public sealed record ExtensionState(string? Name, string? Status, string? Version);

    public sealed record ProcessSample(long? Pid, string? Name, double? CpuPercent, long? MemoryBytes, string? Status, string? User, string? Command);

    [NotAudited("agent telemetry: one heartbeat every few seconds per instance")]
    public sealed record Command(Guid InstanceId, Body Heartbeat) : ICommand<Response>;

    public sealed record Response(bool Ok, Guid InstanceId, string Status, DateTime ReceivedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public static readonly string[] ExtensionStatuses = ["healthy", "degraded", "installing", "stalled", "error", "unknown", "removed"];

        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.Heartbeat.CpuPercent).InclusiveBetween(0, 100).When(command => command.Heartbeat.CpuPercent is not null)
                .OverridePropertyName("cpuPercent");
            RuleFor(command => command.Heartbeat).Must(heartbeat => new[] { heartbeat.MemoryUsed, heartbeat.MemoryTotal, heartbeat.DiskUsed, heartbeat.DiskTotal, heartbeat.Uptime, heartbeat.UptimeSeconds }
                    .All(value => value is null or >= 0))
                .WithMessage("byte counts and uptime must not be negative").OverridePropertyName("body");
            RuleFor(command => command.Heartbeat.Distro).Must(distro => FleetVocabulary.IsOneOf(distro, FleetVocabulary.Distros))
                .When(command => command.Heartbeat.Distro is not null).WithMessage($"distro must be one of: {string.Join(", ", FleetVocabulary.Distros)}")
                .OverridePropertyName("distro");
            RuleFor(command => command.Heartbeat.Extensions).Must(extensions => extensions!.Length <= 200 && extensions.All(name => name is { Length: > 0 and <= 128 }))
                .When(command => command.Heartbeat.Extensions is not null).WithMessage("extensions must be at most 200 names").OverridePropertyName("extensions");
            RuleFor(command => command.Heartbeat.ExtensionStates).Must(states => states!.Length <= 200
                    && states.All(state => state is not null && state.Name is { Length: > 0 and <= 128 } && FleetVocabulary.IsOneOf(state.Status, ExtensionStatuses)))
                .When(command => command.Heartbeat.ExtensionStates is not null)
                .WithMessage($"extensionStates need a name and a status of: {string.Join(", ", ExtensionStatuses)}").OverridePropertyName("extensionStates");
            RuleFor(command => command.Heartbeat.Processes).Must(processes => processes!.Length <= 500
                    && processes.All(process => process is not null && process.Pid is >= 0 && process.Name is { Length: > 0 and <= 256 } && process.CpuPercent is null or >= 0 && process.MemoryBytes is null or >= 0))
                .When(command => command.Heartbeat.Processes is not null)
                .WithMessage("processes need a pid and a name (at most 500)").OverridePropertyName("processes");
            RuleFor(command => command.Heartbeat.AgentVersion).MaximumLength(64).OverridePropertyName("agentVersion");
            RuleFor(command => command.Heartbeat.Metrics!).SetValidator(new MetricSample.Rules()).When(command => command.Heartbeat.Metrics is not null)
                .OverridePropertyName("metrics");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Current = $"""
            SELECT i.name, i.status FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate} FOR UPDATE
            """;

        private const string Touch = """
            UPDATE fleet.instances
            SET last_heartbeat_at = greatest(last_heartbeat_at, @At),
                status = @Status,
                distro = COALESCE(@Distro, distro),
                extensions = CASE WHEN @ExtensionsGiven THEN @Extensions ELSE extensions END,
                extension_states = CASE WHEN @StatesGiven THEN CAST(@States AS jsonb) ELSE extension_states END,
                agent_version = COALESCE(@AgentVersion, agent_version),
                updated_at = CASE WHEN @Status <> status THEN @Now ELSE updated_at END
            WHERE id = @Id
            """;

        private const string InsertHeartbeat = """
            INSERT INTO fleet.heartbeats (instance_id, recorded_at, cpu_percent, memory_used, memory_total, disk_used, disk_total, uptime_seconds, processes)
            VALUES (@Id, @At, @CpuPercent, @MemoryUsed, @MemoryTotal, @DiskUsed, @DiskTotal, @UptimeSeconds, CAST(@Processes AS jsonb))
            """;

        private const string RecordEvent = """
            INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, metadata)
            VALUES (@EventId, @Id, @EventType, @Now, CAST(@Metadata AS jsonb))
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var current = await db.QuerySingleOrDefaultAsync<State>(Current, new { Id = command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            if (current.Status == "DESTROYED")
            {
                throw new ConflictException($"Instance '{current.Name}' is destroyed; register it again to report");
            }

            var heartbeat = command.Heartbeat;
            var now = clock.GetUtcNow().UtcDateTime;
            var at = MetricSample.Plausible(heartbeat.Timestamp, now);
            var status = current.Status is "ERROR" or "UNKNOWN" or "STOPPED" ? "RUNNING" : current.Status;
            var states = heartbeat.ExtensionStates?.Select(state => new
            {
                name = state.Name!.Trim(),
                status = state.Status!.Trim().ToLowerInvariant(),
                version = state.Version,
                updatedAt = at,
            }).ToList();
            await db.ExecuteAsync(
                Touch,
                new
                {
                    Id = command.InstanceId,
                    At = at,
                    Status = status,
                    Distro = heartbeat.Distro?.Trim().ToLowerInvariant(),
                    ExtensionsGiven = heartbeat.Extensions is { Length: > 0 } || states is { Count: > 0 },
                    Extensions = heartbeat.Extensions is { Length: > 0 } names ? names.Select(name => name.Trim()).Distinct().ToArray()
                        : states?.Select(state => state.name).Distinct().ToArray() ?? [],
                    StatesGiven = states is not null,
                    States = JsonSerializer.Serialize(states ?? []),
                    heartbeat.AgentVersion,
                    Now = now,
                },
                cancellationToken);
            await db.ExecuteAsync(
                InsertHeartbeat,
                new
                {
                    Id = command.InstanceId,
                    At = at,
                    CpuPercent = heartbeat.CpuPercent ?? heartbeat.Metrics?.CpuPercent ?? 0,
                    MemoryUsed = heartbeat.MemoryUsed ?? heartbeat.Metrics?.MemUsed ?? 0,
                    MemoryTotal = heartbeat.MemoryTotal ?? heartbeat.Metrics?.MemTotal ?? 0,
                    DiskUsed = heartbeat.DiskUsed ?? heartbeat.Metrics?.DiskUsed ?? 0,
                    DiskTotal = heartbeat.DiskTotal ?? heartbeat.Metrics?.DiskTotal ?? 0,
                    UptimeSeconds = heartbeat.UptimeSeconds ?? heartbeat.Uptime ?? 0,
                    Processes = heartbeat.Processes is null ? null : JsonSerializer.Serialize(heartbeat.Processes.Select(process => new StoredProcess(
                        process.Pid!.Value, process.Name!, process.CpuPercent ?? 0, process.MemoryBytes ?? 0, process.Status, process.User, process.Command))),
                },
                cancellationToken);
            if (heartbeat.Metrics is { } metrics)
            {
                await metrics.InsertAsync(db, command.InstanceId, now, cancellationToken);
            }

            if (status != current.Status)
            {
                var eventType = current.Status == "ERROR" ? "HEARTBEAT_RECOVERED" : "CONNECT";
                var metadata = new { triggered_by = "heartbeat", from = current.Status, to = status };
                await db.ExecuteAsync(
                    RecordEvent,
                    new { EventId = Guid.CreateVersion7(), Id = command.InstanceId, EventType = eventType, Now = now, Metadata = JsonSerializer.Serialize(metadata) },
                    cancellationToken);
                await hub.PublishAsync(db, $"fleet.instances.{command.InstanceId}", new { eventType, instanceId = command.InstanceId, status, metadata, ts = now }, cancellationToken);
            }

            return new Response(true, command.InstanceId, status, now);
        }
    }

    internal sealed record State(string Name, string Status);

    /// <summary>A process as stored in the heartbeat (snake_case, as the processes route serves it).</summary>
    internal sealed record StoredProcess(
        [property: JsonPropertyName("pid")] long Pid,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("cpu_percent")] double CpuPercent,
        [property: JsonPropertyName("memory_bytes")] long MemoryBytes,
        [property: JsonPropertyName("status")] string? Status,
        [property: JsonPropertyName("user")] string? User,
        [property: JsonPropertyName("command")] string? Command);

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/instances/{id}/heartbeat", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body), cancellationToken)))
                .RequirePermission(Permissions.TelemetryIngest)
                .WithName(nameof(RecordHeartbeat))
                .WithTags(FleetRoutes.Agents)
                .WithSummary("Report a heartbeat over REST" + FleetRoutes.BeyondInventory)
                .WithDescription("For agents that cannot hold the /ws/agent socket. Not in seed 004's inventory: the upstream only takes heartbeats over the socket.")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
