using Capstan.Features.Access.Requests;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Access;

/// <summary>
/// The access area's housekeeping, every 30 seconds once per fleet: pending requests past their workflow's
/// <c>request_ttl</c> become <c>expired</c> (each in its own transaction, audited with the request's id as correlation);
/// agents silent for five minutes become <c>stale</c>; discovered secrets unseen for a day become <c>missing</c>; the
/// ciphertext of wraps past their lifetime is erased.
/// </summary>
public sealed class AccessMaintenance(IServiceProvider services, ILogger<AccessMaintenance> logger) : RecurringJob(services, logger)
{
    public static readonly TimeSpan StaleAfter = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan MissingAfter = TimeSpan.FromHours(24);

    private const string Overdue = """
        SELECT id FROM access.requests WHERE status = 'pending' AND expires_at <= now() ORDER BY expires_at LIMIT 500
        """;

    private const string Housekeeping = """
        UPDATE access.agents SET status = 'stale', updated_at = now()
        WHERE status = 'active' AND COALESCE(last_seen_at, created_at) < now() - make_interval(secs => @StaleSeconds);
        UPDATE access.discovered_secrets SET status = 'missing', updated_at = now()
        WHERE status = 'present' AND last_seen_at < now() - make_interval(secs => @MissingSeconds);
        UPDATE access.wraps SET envelope = NULL WHERE envelope IS NOT NULL AND expires_at <= now();
        """;

    public override string Name => "access-maintenance";

    public override TimeSpan Interval => TimeSpan.FromSeconds(30);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        foreach (var requestId in await db.QueryAsync<Guid>(Overdue, null, cancellationToken))
        {
            await ExpireAsync(scope, requestId, cancellationToken);
        }

        await db.ExecuteAsync(Housekeeping, new { StaleSeconds = StaleAfter.TotalSeconds, MissingSeconds = MissingAfter.TotalSeconds }, cancellationToken);
    }

    private async Task ExpireAsync(IServiceProvider parent, Guid requestId, CancellationToken cancellationToken)
    {
        await using var scope = parent.GetRequiredService<IServiceScopeFactory>().CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DbSession>();
        var audit = scope.ServiceProvider.GetRequiredService<AuditTrail>();
        audit.CorrelationId = requestId;
        await db.BeginAsync(cancellationToken);
        if (await RequestTransitions.CloseAsync(
                db, audit, scope.ServiceProvider.GetRequiredService<AccessMetrics>(), requestId, "expired", null, cancellationToken, systemActor: "system:request-expiry"))
        {
            await audit.BeforeCommitAsync(this, db, cancellationToken);
        }

        await db.CommitAsync(cancellationToken);
    }
}
