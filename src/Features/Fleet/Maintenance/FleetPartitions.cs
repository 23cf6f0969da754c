using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Maintenance;

/// <summary>
/// The daily partitions of heartbeats, metrics and logs: every UTC day from the retention horizon to three days ahead
/// exists (so any accepted timestamp has a home), and days past retention are dropped whole. Retention per table:
/// <c>Fleet:Retention:HeartbeatDays</c> (7), <c>MetricDays</c> (30), <c>LogDays</c> (30). Before the service reports
/// ready only the days live traffic writes to (yesterday to three days ahead) are made sure of; the older days of the
/// retention (on a new database, some 46 partitions and half a second) and the drops follow right after ready, then
/// hourly (<see cref="FleetPartitionMaintenance"/>). A log line stamped with an older day in that first second gets a
/// 503 asking to retry.
/// </summary>
public sealed class FleetPartitions(IServiceProvider services) : IStartupTask
{
    private const string Maintain = """
        WITH day AS (SELECT CAST(@Today AS date) AS today)
        SELECT fleet.ensure_daily_partitions('heartbeats', today - @HeartbeatDays, today + 3)
             + fleet.ensure_daily_partitions('metrics', today - @MetricDays, today + 3)
             + fleet.ensure_daily_partitions('logs', today - @LogDays, today + 3) AS created,
               fleet.drop_daily_partitions('heartbeats', today - @HeartbeatDays)
             + fleet.drop_daily_partitions('metrics', today - @MetricDays)
             + fleet.drop_daily_partitions('logs', today - @LogDays) AS dropped
        FROM day
        """;

    private const string EnsureCurrent = """
        WITH day AS (SELECT CAST(@Today AS date) AS today)
        SELECT fleet.ensure_daily_partitions('heartbeats', today - 1, today + 3)
             + fleet.ensure_daily_partitions('metrics', today - 1, today + 3)
             + fleet.ensure_daily_partitions('logs', today - 1, today + 3) AS created,
               0::bigint AS dropped
        FROM day
        """;

    public sealed record Result(long Created, long Dropped);

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        await ApplyAsync(scope.ServiceProvider, EnsureCurrent, cancellationToken);
    }

    public async Task AfterReadyAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        await MaintainAsync(scope.ServiceProvider, cancellationToken);
    }

    /// <summary>Creates the partitions due over the whole retention and drops the expired ones.</summary>
    public static Task<Result> MaintainAsync(IServiceProvider scope, CancellationToken cancellationToken) =>
        ApplyAsync(scope, Maintain, cancellationToken);

    private static async Task<Result> ApplyAsync(IServiceProvider scope, string sql, CancellationToken cancellationToken)
    {
        var configuration = scope.GetRequiredService<IConfiguration>();
        var db = scope.GetRequiredService<DbSession>();
        var today = scope.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime.Date;
        await db.BeginAsync(cancellationToken);
        var result = await db.QuerySingleAsync<Result>(
            sql,
            new
            {
                Today = today.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture),
                HeartbeatDays = Days(configuration, "HeartbeatDays", 7),
                MetricDays = Days(configuration, "MetricDays", 30),
                LogDays = Days(configuration, "LogDays", 30),
            },
            cancellationToken);
        await db.CommitAsync(cancellationToken);
        if (result.Created + result.Dropped > 0)
        {
            scope.GetRequiredService<ILogger<FleetPartitions>>().LogInformation(
                "Fleet partitions: {Created} created, {Dropped} dropped past retention", result.Created, result.Dropped);
        }

        return result;
    }

    private static int Days(IConfiguration configuration, string key, int fallback) => Math.Clamp(configuration.GetValue($"Fleet:Retention:{key}", fallback), 1, 3650);
}

/// <summary>Keeps the fleet's time partitions ahead and drops expired ones, hourly, once per fleet.</summary>
public sealed class FleetPartitionMaintenance(IServiceProvider services, ILogger<FleetPartitionMaintenance> logger) : RecurringJob(services, logger)
{
    public override string Name => "fleet-partitions";

    public override TimeSpan Interval => TimeSpan.FromHours(1);

    public override Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken) => FleetPartitions.MaintainAsync(scope, cancellationToken);
}
