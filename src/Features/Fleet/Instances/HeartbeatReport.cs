using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Features.Fleet.Metrics;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using FluentValidation;

namespace Capstan.Features.Fleet.Instances;

/// <summary>
/// One heartbeat of an instance's agent, as the REST heartbeat route and the agent socket's <c>heartbeat</c> message
/// both carry it: a liveness sample, optionally a full metric snapshot, extension and process reports. Like
/// <see cref="MetricSample"/>, it knows how to validate and store itself, so both transports write the same rows.
/// </summary>
public sealed record HeartbeatReport
{
    public static readonly string[] ExtensionStatuses = ["healthy", "degraded", "installing", "stalled", "error", "unknown", "removed"];

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

    public sealed record ExtensionState(string? Name, string? Status, string? Version);

    public sealed record ProcessSample(long? Pid, string? Name, double? CpuPercent, long? MemoryBytes, string? Status, string? User, string? Command);

    /// <summary>What the instance became: the status after the heartbeat and the server time it was received.</summary>
    public sealed record Outcome(string Status, DateTime ReceivedAt);

    public sealed class Rules : AbstractValidator<HeartbeatReport>
    {
        public Rules()
        {
            RuleFor(heartbeat => heartbeat.CpuPercent).InclusiveBetween(0, 100).When(heartbeat => heartbeat.CpuPercent is not null).OverridePropertyName("cpuPercent");
            RuleFor(heartbeat => heartbeat).Must(heartbeat => new[] { heartbeat.MemoryUsed, heartbeat.MemoryTotal, heartbeat.DiskUsed, heartbeat.DiskTotal, heartbeat.Uptime, heartbeat.UptimeSeconds }
                    .All(value => value is null or >= 0))
                .WithMessage("byte counts and uptime must not be negative").OverridePropertyName("body");
            RuleFor(heartbeat => heartbeat.Distro).Must(distro => FleetVocabulary.IsOneOf(distro, FleetVocabulary.Distros))
                .When(heartbeat => heartbeat.Distro is not null).WithMessage($"distro must be one of: {string.Join(", ", FleetVocabulary.Distros)}")
                .OverridePropertyName("distro");
            RuleFor(heartbeat => heartbeat.Extensions).Must(extensions => extensions!.Length <= 200 && extensions.All(name => name is { Length: > 0 and <= 128 }))
                .When(heartbeat => heartbeat.Extensions is not null).WithMessage("extensions must be at most 200 names").OverridePropertyName("extensions");
            RuleFor(heartbeat => heartbeat.ExtensionStates).Must(states => states!.Length <= 200
                    && states.All(state => state is not null && state.Name is { Length: > 0 and <= 128 } && FleetVocabulary.IsOneOf(state.Status, ExtensionStatuses)))
                .When(heartbeat => heartbeat.ExtensionStates is not null)
                .WithMessage($"extensionStates need a name and a status of: {string.Join(", ", ExtensionStatuses)}").OverridePropertyName("extensionStates");
            RuleFor(heartbeat => heartbeat.Processes).Must(processes => processes!.Length <= 500
                    && processes.All(process => process is not null && process.Pid is >= 0 && process.Name is { Length: > 0 and <= 256 } && process.CpuPercent is null or >= 0 && process.MemoryBytes is null or >= 0))
                .When(heartbeat => heartbeat.Processes is not null)
                .WithMessage("processes need a pid and a name (at most 500)").OverridePropertyName("processes");
            RuleFor(heartbeat => heartbeat.AgentVersion).MaximumLength(64).OverridePropertyName("agentVersion");
            RuleFor(heartbeat => heartbeat.Metrics!).SetValidator(new MetricSample.Rules()).When(heartbeat => heartbeat.Metrics is not null).OverridePropertyName("metrics");
        }
    }

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

    /// <summary>
    /// Stores the heartbeat of an instance whose row the caller holds locked (<c>FOR UPDATE</c>) in
    /// <paramref name="currentStatus"/>: the sample, the metric snapshot, the instance's <c>lastHeartbeatAt</c> and
    /// reports, and brings an ERROR, UNKNOWN or STOPPED instance back to RUNNING (HEARTBEAT_RECOVERED / CONNECT event,
    /// raised on the event hub).
    /// </summary>
    public async Task<Outcome> RecordAsync(DbSession db, EventHub hub, Guid instanceId, string currentStatus, DateTime now, CancellationToken cancellationToken)
    {
        var at = MetricSample.Plausible(Timestamp, now);
        var status = currentStatus is "ERROR" or "UNKNOWN" or "STOPPED" ? "RUNNING" : currentStatus;
        var states = ExtensionStates?.Select(state => new
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
                Id = instanceId,
                At = at,
                Status = status,
                Distro = Distro?.Trim().ToLowerInvariant(),
                ExtensionsGiven = Extensions is { Length: > 0 } || states is { Count: > 0 },
                Extensions = Extensions is { Length: > 0 } names ? names.Select(name => name.Trim()).Distinct().ToArray()
                    : states?.Select(state => state.name).Distinct().ToArray() ?? [],
                StatesGiven = states is not null,
                States = JsonSerializer.Serialize(states ?? []),
                AgentVersion,
                Now = now,
            },
            cancellationToken);
        await db.ExecuteAsync(
            InsertHeartbeat,
            new
            {
                Id = instanceId,
                At = at,
                CpuPercent = CpuPercent ?? Metrics?.CpuPercent ?? 0,
                MemoryUsed = MemoryUsed ?? Metrics?.MemUsed ?? 0,
                MemoryTotal = MemoryTotal ?? Metrics?.MemTotal ?? 0,
                DiskUsed = DiskUsed ?? Metrics?.DiskUsed ?? 0,
                DiskTotal = DiskTotal ?? Metrics?.DiskTotal ?? 0,
                UptimeSeconds = UptimeSeconds ?? Uptime ?? 0,
                Processes = Processes is null ? null : JsonSerializer.Serialize(Processes.Select(process => new StoredProcess(
                    process.Pid!.Value, process.Name!, process.CpuPercent ?? 0, process.MemoryBytes ?? 0, process.Status, process.User, process.Command))),
            },
            cancellationToken);
        if (Metrics is { } metrics)
        {
            await metrics.InsertAsync(db, instanceId, now, cancellationToken);
        }

        if (status != currentStatus)
        {
            var eventType = currentStatus == "ERROR" ? "HEARTBEAT_RECOVERED" : "CONNECT";
            var metadata = new { triggered_by = "heartbeat", from = currentStatus, to = status };
            await db.ExecuteAsync(
                RecordEvent,
                new { EventId = Guid.CreateVersion7(), Id = instanceId, EventType = eventType, Now = now, Metadata = JsonSerializer.Serialize(metadata) },
                cancellationToken);
            await hub.PublishAsync(db, $"fleet.instances.{instanceId}", new { eventType, instanceId, status, metadata, ts = now }, cancellationToken);
        }

        return new Outcome(status, now);
    }
}

/// <summary>A process as the heartbeat stores it (snake_case, as the processes route serves it).</summary>
internal sealed record StoredProcess(
    [property: JsonPropertyName("pid")] long Pid,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("cpu_percent")] double CpuPercent,
    [property: JsonPropertyName("memory_bytes")] long MemoryBytes,
    [property: JsonPropertyName("status")] string? Status,
    [property: JsonPropertyName("user")] string? User,
    [property: JsonPropertyName("command")] string? Command);
