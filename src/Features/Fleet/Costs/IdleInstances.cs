namespace Capstan.Features.Fleet.Costs;

/// <summary>Idle detection (reference sindri.md §9.4): RUNNING, STOPPED or SUSPENDED instances whose last heartbeat (or,
/// never having sent one, their last update) is at least the threshold old; their monthly cost is the latest daily entry
/// × 30; average CPU and memory over the last 30 days of metrics. Most idle first.</summary>
internal static class IdleInstances
{
    public const string Select = $"""
        SELECT i.id AS instance_id, i.name AS instance_name, i.provider, i.region, i.status,
               COALESCE(i.last_heartbeat_at, i.updated_at) AS last_activity_at,
               COALESCE(c.total_usd, 0) * 30 AS monthly_usd,
               COALESCE(u.avg_cpu, 0) AS avg_cpu, COALESCE(u.avg_mem, 0) AS avg_mem
        FROM fleet.instances i
        LEFT JOIN LATERAL (SELECT e.total_usd FROM fleet.cost_entries e WHERE e.instance_id = i.id ORDER BY e.period_start DESC LIMIT 1) c ON true
        LEFT JOIN LATERAL (
            SELECT avg(m.cpu_percent)::double precision AS avg_cpu,
                   avg(CASE WHEN m.mem_total > 0 THEN m.mem_used * 100.0 / m.mem_total END)::double precision AS avg_mem
            FROM fleet.metrics m WHERE m.instance_id = i.id AND m.recorded_at > @Since
        ) u ON true
        WHERE i.status IN ('RUNNING', 'STOPPED', 'SUSPENDED')
          AND COALESCE(i.last_heartbeat_at, i.updated_at) <= @Cutoff
          AND {FleetVisibility.Predicate}
        ORDER BY COALESCE(i.last_heartbeat_at, i.updated_at), i.name
        """;

    internal sealed record Row
    {
        public Guid InstanceId { get; init; }

        public string InstanceName { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;

        public string? Region { get; init; }

        public string Status { get; init; } = string.Empty;

        public DateTime LastActivityAt { get; init; }

        public decimal MonthlyUsd { get; init; }

        public double AvgCpu { get; init; }

        public double AvgMem { get; init; }
    }

    public static object Parameters(Capstan.Infrastructure.Security.Caller caller, DateTime now, double thresholdHours)
    {
        var scope = FleetVisibility.Of(caller);
        return new { Cutoff = now.AddHours(-thresholdHours), Since = now.AddDays(-30), scope.SeesAllTeams, scope.TeamIds };
    }
}
