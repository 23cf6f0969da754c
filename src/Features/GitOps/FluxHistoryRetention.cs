using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.GitOps;

/// <summary>Reconciliation history retention (reference <c>gyre.md</c> §12), once per fleet every hour: successful
/// entries go after <c>GitOps:History:SuccessRetentionDays</c> (90), failures after
/// <c>GitOps:History:FailureRetentionDays</c> (365), and each resource keeps at most
/// <c>GitOps:History:MaxPerResource</c> (100) entries, newest first.</summary>
public sealed class FluxHistoryRetention(IServiceProvider services, ILogger<FluxHistoryRetention> logger) : RecurringJob(services, logger)
{
    public override string Name => "flux-history-retention";

    public override TimeSpan Interval => TimeSpan.FromHours(1);

    protected override TimeSpan FirstRunDelay => TimeSpan.FromMinutes(10);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var configuration = scope.GetRequiredService<IConfiguration>();
        var now = scope.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        await scope.GetRequiredService<DbSession>().ExecuteAsync(
            """
            DELETE FROM gitops.reconciliation_history
            WHERE (status = 'success' AND reconcile_completed_at < @SuccessBefore)
               OR (status <> 'success' AND reconcile_completed_at < @FailureBefore);
            DELETE FROM gitops.reconciliation_history h
            USING (
                SELECT id FROM (
                    SELECT id, row_number() OVER (PARTITION BY cluster_id, resource_type, namespace, name ORDER BY reconcile_completed_at DESC, id DESC) AS position
                    FROM gitops.reconciliation_history
                ) ranked
                WHERE position > @MaxPerResource
            ) surplus
            WHERE h.id = surplus.id;
            """,
            new
            {
                SuccessBefore = now.AddDays(-configuration.GetValue("GitOps:History:SuccessRetentionDays", 90)),
                FailureBefore = now.AddDays(-configuration.GetValue("GitOps:History:FailureRetentionDays", 365)),
                MaxPerResource = configuration.GetValue("GitOps:History:MaxPerResource", 100),
            },
            cancellationToken);
    }
}
