using Capstan.Features.Identity;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Features.Tests.Identity;

/// <summary>The audit log is append-only: the trigger refuses UPDATE and DELETE, except the retention job's deletes,
/// which it marks with a transaction-local setting.</summary>
public sealed class AuditLogAppendOnlyTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task Updates_are_refused()
    {
        var id = await InsertAuditAsync(DateTime.UtcNow);

        var refused = await Should.ThrowAsync<PostgresException>(() => Fixture.ExecuteAsync("UPDATE identity.audit_log SET action = 'forged' WHERE id = @Id", new { Id = id }));

        refused.SqlState.ShouldBe(PostgresErrorCodes.InsufficientPrivilege);
        refused.MessageText.ShouldContain("append-only");
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log WHERE id = @Id", new { Id = id })).ShouldBe("thing.happen");
    }

    [Fact]
    public async Task Deletes_are_refused_even_of_old_rows()
    {
        await InsertAuditAsync(DateTime.UtcNow.AddYears(-20));

        var refused = await Should.ThrowAsync<PostgresException>(() => Fixture.ExecuteAsync("DELETE FROM identity.audit_log"));

        refused.SqlState.ShouldBe(PostgresErrorCodes.InsufficientPrivilege);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log")).ShouldBe(1);
    }

    [Fact]
    public async Task A_session_wide_setting_outside_the_retention_path_does_not_help_updates()
    {
        var id = await InsertAuditAsync(DateTime.UtcNow);

        await Should.ThrowAsync<PostgresException>(() => Fixture.ExecuteAsync(
            "SET capstan.audit_retention = 'on'; UPDATE identity.audit_log SET action = 'forged' WHERE id = @Id", new { Id = id }));
    }

    [Fact]
    public async Task The_retention_job_deletes_only_rows_older_than_the_setting_and_its_bypass_ends_with_its_transaction()
    {
        var now = DateTime.UtcNow;
        await InsertAuditAsync(now.AddDays(-100), action: "ancient");
        await InsertAuditAsync(now.AddDays(-40), action: "old");
        await InsertAuditAsync(now.AddDays(-1), action: "recent");
        await Fixture.ExecuteAsync("INSERT INTO identity.settings (key, value) VALUES ('audit.retentionDays', '30')");

        await Fixture.WithScopeAsync(async scope =>
        {
            await scope.GetRequiredService<IdentityMaintenance>().RunOnceAsync(scope, default);
            return true;
        });

        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log ORDER BY occurred_at")).ShouldBe(["recent"]);
        await Should.ThrowAsync<PostgresException>(() => Fixture.ExecuteAsync("DELETE FROM identity.audit_log"));
    }

    [Fact]
    public async Task With_the_default_retention_rows_younger_than_90_days_stay()
    {
        var now = DateTime.UtcNow;
        await InsertAuditAsync(now.AddDays(-91), action: "expired");
        await InsertAuditAsync(now.AddDays(-89), action: "kept");

        await Fixture.WithScopeAsync(async scope =>
        {
            await scope.GetRequiredService<IdentityMaintenance>().RunOnceAsync(scope, default);
            return true;
        });

        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log")).ShouldBe(["kept"]);
    }
}
