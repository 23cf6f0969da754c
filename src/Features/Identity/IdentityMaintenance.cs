using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Settings;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Identity;

/// <summary>
/// Hourly clean-up of what identity leaves behind: ended and expired sessions (kept a day for forensics), used or
/// expired tickets, OAuth states and exchange codes, stale lockouts, and audit rows older than
/// <c>auditRetentionDays</c> (the only deletes the audit trigger lets through).
/// </summary>
public sealed class IdentityMaintenance(IServiceProvider services, ILogger<IdentityMaintenance> logger) : RecurringJob(services, logger)
{
    private const string Cleanup = """
        DELETE FROM identity.sessions WHERE expires_at < @Now - interval '1 day' OR revoked_at < @Now - interval '1 day';
        DELETE FROM identity.ws_tickets WHERE expires_at < @Now - interval '1 hour';
        DELETE FROM identity.oauth_states WHERE expires_at < @Now;
        DELETE FROM identity.oauth_exchange_codes WHERE expires_at < @Now - interval '1 hour';
        DELETE FROM identity.login_failures WHERE updated_at < @Now - interval '2 days' AND (locked_until IS NULL OR locked_until < @Now);
        """;

    private const string Retention = """
        SET LOCAL capstan.audit_retention = 'on';
        DELETE FROM identity.audit_log WHERE occurred_at < @Cutoff;
        """;

    public override string Name => "identity-maintenance";

    public override TimeSpan Interval => TimeSpan.FromHours(1);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var now = scope.GetRequiredService<TimeProvider>().GetUtcNow();
        await db.BeginAsync(cancellationToken);
        await db.ExecuteAsync(Cleanup, new { Now = now.UtcDateTime }, cancellationToken);
        var policy = await scope.GetRequiredService<AuthSettings>().ReadPolicyAsync(db, cancellationToken);
        var deleted = await db.ExecuteAsync(Retention, new { Cutoff = now.AddDays(-policy.AuditRetentionDays).UtcDateTime }, cancellationToken);
        await db.CommitAsync(cancellationToken);
        if (deleted > 0)
        {
            scope.GetRequiredService<ILogger<IdentityMaintenance>>().LogInformation(
                "Deleted {Count} audit rows older than {Days} days", deleted, policy.AuditRetentionDays);
        }
    }
}
