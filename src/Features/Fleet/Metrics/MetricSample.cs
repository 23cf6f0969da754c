using Capstan.Infrastructure.Data;
using FluentValidation;

namespace Capstan.Features.Fleet.Metrics;

/// <summary>One metric snapshot of an instance as agents report it (reference sindri.md §7.2, the flat form; the
/// agent socket maps Draupnir's nested form onto it). Byte counts are bytes; network counters are cumulative.</summary>
public sealed record MetricSample
{
    public double? CpuPercent { get; init; }

    public double? LoadAvg1 { get; init; }

    public double? LoadAvg5 { get; init; }

    public double? LoadAvg15 { get; init; }

    public double? CpuSteal { get; init; }

    public long? CoreCount { get; init; }

    public long? MemUsed { get; init; }

    public long? MemTotal { get; init; }

    public long? MemCached { get; init; }

    public long? SwapUsed { get; init; }

    public long? SwapTotal { get; init; }

    public long? DiskUsed { get; init; }

    public long? DiskTotal { get; init; }

    public double? DiskReadBps { get; init; }

    public double? DiskWriteBps { get; init; }

    public long? NetBytesSent { get; init; }

    public long? NetBytesRecv { get; init; }

    public long? NetPacketsSent { get; init; }

    public long? NetPacketsRecv { get; init; }

    /// <summary>When the agent took the sample; the server's time when absent or implausible.</summary>
    public DateTimeOffset? Timestamp { get; init; }

    private const string Insert = """
        INSERT INTO fleet.metrics
            (instance_id, recorded_at, cpu_percent, load_avg_1, load_avg_5, load_avg_15, cpu_steal, core_count, mem_used, mem_total,
             mem_cached, swap_used, swap_total, disk_used, disk_total, disk_read_bps, disk_write_bps, net_bytes_sent, net_bytes_recv,
             net_packets_sent, net_packets_recv)
        VALUES
            (@InstanceId, @RecordedAt, @CpuPercent, @LoadAvg1, @LoadAvg5, @LoadAvg15, @CpuSteal, @CoreCount, @MemUsed, @MemTotal,
             @MemCached, @SwapUsed, @SwapTotal, @DiskUsed, @DiskTotal, @DiskReadBps, @DiskWriteBps, @NetBytesSent, @NetBytesRecv,
             @NetPacketsSent, @NetPacketsRecv)
        """;

    /// <summary>The time to store a sample under: the agent's when within a day before and five minutes after
    /// <paramref name="now"/> (the partitions that exist), else <paramref name="now"/>.</summary>
    public static DateTime Plausible(DateTimeOffset? reported, DateTime now) =>
        reported is { } at && at.UtcDateTime > now.AddDays(-1) && at.UtcDateTime < now.AddMinutes(5) ? at.UtcDateTime : now;

    /// <summary>Stores the sample for <paramref name="instanceId"/> (inside the caller's transaction).</summary>
    public Task InsertAsync(DbSession db, Guid instanceId, DateTime now, CancellationToken cancellationToken) =>
        db.ExecuteAsync(
            Insert,
            new
            {
                InstanceId = instanceId,
                RecordedAt = Plausible(Timestamp, now),
                CpuPercent = CpuPercent ?? 0,
                LoadAvg1,
                LoadAvg5,
                LoadAvg15,
                CpuSteal,
                CoreCount,
                MemUsed = MemUsed ?? 0,
                MemTotal = MemTotal ?? 0,
                MemCached,
                SwapUsed,
                SwapTotal,
                DiskUsed = DiskUsed ?? 0,
                DiskTotal = DiskTotal ?? 0,
                DiskReadBps,
                DiskWriteBps,
                NetBytesSent,
                NetBytesRecv,
                NetPacketsSent,
                NetPacketsRecv,
            },
            cancellationToken);

    /// <summary>Range checks for a sample (a percentage is 0..100, counters are never negative).</summary>
    public sealed class Rules : AbstractValidator<MetricSample>
    {
        public Rules()
        {
            RuleFor(sample => sample.CpuPercent).InclusiveBetween(0, 100).When(sample => sample.CpuPercent is not null);
            RuleFor(sample => sample.CpuSteal).InclusiveBetween(0, 100).When(sample => sample.CpuSteal is not null);
            RuleFor(sample => sample.LoadAvg1).GreaterThanOrEqualTo(0).When(sample => sample.LoadAvg1 is not null);
            RuleFor(sample => sample.LoadAvg5).GreaterThanOrEqualTo(0).When(sample => sample.LoadAvg5 is not null);
            RuleFor(sample => sample.LoadAvg15).GreaterThanOrEqualTo(0).When(sample => sample.LoadAvg15 is not null);
            RuleFor(sample => sample.CoreCount).InclusiveBetween(0, 65536).When(sample => sample.CoreCount is not null);
            RuleFor(sample => sample.MemUsed).GreaterThanOrEqualTo(0).When(sample => sample.MemUsed is not null);
            RuleFor(sample => sample.MemTotal).GreaterThanOrEqualTo(0).When(sample => sample.MemTotal is not null);
            RuleFor(sample => sample.DiskUsed).GreaterThanOrEqualTo(0).When(sample => sample.DiskUsed is not null);
            RuleFor(sample => sample.DiskTotal).GreaterThanOrEqualTo(0).When(sample => sample.DiskTotal is not null);
            RuleFor(sample => sample.NetBytesSent).GreaterThanOrEqualTo(0).When(sample => sample.NetBytesSent is not null);
            RuleFor(sample => sample.NetBytesRecv).GreaterThanOrEqualTo(0).When(sample => sample.NetBytesRecv is not null);
        }
    }
}
