using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Delivery.Builds;

/// <summary>
/// Once a minute, on one replica: builds whose tracker stopped (no progress recorded for two minutes — a restarted
/// replica) are looked at again in their cluster, import sessions stuck in cloning or analysing for fifteen minutes
/// are failed, and resource syncs running for more than ten minutes are marked failed.
/// </summary>
public sealed class BuildReconciler(IServiceProvider services, ILogger<BuildReconciler> logger) : RecurringJob(services, logger)
{
    public override string Name => "delivery-reconciler";

    public override TimeSpan Interval => TimeSpan.FromMinutes(1);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var stale = await db.QueryAsync<Guid>(
            "SELECT id FROM delivery.builds WHERE status IN ('pending', 'cloning', 'building', 'pushing') AND updated_at < now() - interval '2 minutes' ORDER BY updated_at LIMIT 50",
            null,
            cancellationToken);
        foreach (var id in stale)
        {
            await BuildTracker.ObserveOnceAsync(scope, id, cancellationToken);
        }

        await db.ExecuteAsync(
            """
            UPDATE delivery.import_sessions SET status = 'failed', error_message = 'The import was interrupted', error_stage = current_stage, completed_at = now(), updated_at = now()
            WHERE status IN ('pending', 'cloning', 'analyzing') AND updated_at < now() - interval '15 minutes'
            """,
            null,
            cancellationToken);
        await db.ExecuteAsync(
            "UPDATE delivery.resource_syncs SET status = 'failed', completed_at = now(), error = 'The sync was interrupted' WHERE status = 'running' AND started_at < now() - interval '10 minutes'",
            null,
            cancellationToken);
    }
}
