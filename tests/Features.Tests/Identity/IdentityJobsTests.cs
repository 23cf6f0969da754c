using Capstan.Features.Identity;
using Capstan.Features.Platform;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Capstan.Features.Tests.Identity;

/// <summary>The bootstrap admin, the identity clean-up and the audit log's append-only rule.</summary>
public sealed class IdentityJobsTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    [Fact]
    public async Task Bootstrap_creates_admin_on_an_empty_database_once()
    {
        var task = Bootstrap(new Dictionary<string, string?> { ["CAPSTAN_ADMIN_PASSWORD"] = "Initial-Admin-Pass1" });

        await task.RunAsync(CancellationToken.None);
        await task.RunAsync(CancellationToken.None);

        var admins = await Fixture.QueryAsync<(string Username, string Role, bool RequiresPasswordChange)>(
            "SELECT username, role, requires_password_change FROM identity.users");
        admins.ShouldBe([("admin", "admin", true)]);
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log")).ShouldBe("auth.bootstrap_admin");
        var login = await Fixture.SendAsync(new Login.Command { Username = "admin", Password = "Initial-Admin-Pass1" });
        login.User!.RequiresPasswordChange.ShouldBeTrue();
    }

    [Fact]
    public async Task Bootstrap_hashes_the_password_of_a_new_database_while_it_migrates_and_creates_the_admin_with_it()
    {
        await using var dataSource = NpgsqlDataSource.Create(PostgresServer.CreateEmptyDatabase("bootstrap"));
        await using var services = new ServiceCollection().AddSingleton(new DataSources(dataSource, dataSource)).BuildServiceProvider();
        var task = new BootstrapAdmin(
            services,
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["CAPSTAN_ADMIN_PASSWORD"] = "Initial-Admin-Pass1" }).Build(),
            NullLogger<BootstrapAdmin>.Instance);

        // Start-up's order: prepare sees a database without the users table yet, then the migrations create it.
        await task.PrepareAsync(CancellationToken.None);
        task.HasPreparedPassword.ShouldBeTrue();
        await new Migrator(dataSource, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);
        await task.RunAsync(CancellationToken.None);
        task.HasPreparedPassword.ShouldBeFalse("the prepared hash is used once");

        await using var command = dataSource.CreateCommand("SELECT password_hash FROM identity.users WHERE username = 'admin' AND role = 'admin' AND requires_password_change");
        var hash = (string?)await command.ExecuteScalarAsync();
        Passwords.Verify(hash, "Initial-Admin-Pass1").ShouldBeTrue();
        Passwords.Verify(hash, "Another-Admin-Pass1").ShouldBeFalse();
    }

    [Fact]
    public async Task Bootstrap_leaves_a_database_with_users_alone()
    {
        await Fixture.CreateUserAsync();

        var task = Bootstrap([]);
        await task.PrepareAsync(CancellationToken.None);
        task.HasPreparedPassword.ShouldBeFalse("a database with the users table is not new: nothing is hashed");
        await task.RunAsync(CancellationToken.None);

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users WHERE username = 'admin'")).ShouldBe(0);
    }

    [Fact]
    public async Task Maintenance_drops_dead_sessions_and_audit_rows_past_retention()
    {
        var user = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.sessions (id, user_id, token_hash, expires_at) VALUES
                (platform.uuid_v7(), @Id, '\x01', now() - interval '3 days'),
                (platform.uuid_v7(), @Id, '\x02', now() + interval '1 day');
            INSERT INTO identity.settings (key, value) VALUES ('audit.retentionDays', '30');
            INSERT INTO identity.audit_log (id, occurred_at, actor_type, action, correlation_id) VALUES
                (platform.uuid_v7(), now() - interval '31 days', 'system', 'old', platform.uuid_v7()),
                (platform.uuid_v7(), now() - interval '29 days', 'system', 'recent', platform.uuid_v7());
            """,
            new { user.Id });

        (await Fixture.Services.GetRequiredService<IdentityMaintenance>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions")).ShouldBe(1);
        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log")).ShouldBe(["recent"]);
    }

    [Fact]
    public async Task Platform_maintenance_drops_expired_rate_limit_windows()
    {
        await Fixture.ExecuteAsync("INSERT INTO platform.rate_limits (key, window_start, hits, expires_at) VALUES ('old', now() - interval '1 hour', 3, now() - interval '1 minute'), ('live', now(), 1, now() + interval '1 minute')");

        (await Fixture.Services.GetRequiredService<PlatformMaintenance>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        (await Fixture.QueryAsync<string>("SELECT key FROM platform.rate_limits")).ShouldBe(["live"]);
    }

    [Theory]
    [InlineData("UPDATE identity.audit_log SET action = 'rewritten'")]
    [InlineData("DELETE FROM identity.audit_log")]
    public async Task The_audit_log_refuses_updates_and_deletes(string sql)
    {
        await Fixture.ExecuteAsync("INSERT INTO identity.audit_log (id, actor_type, action, correlation_id) VALUES (platform.uuid_v7(), 'system', 'kept', platform.uuid_v7())");

        var error = await Should.ThrowAsync<PostgresException>(() => Fixture.ExecuteAsync(sql));

        error.MessageText.ShouldStartWith("audit_log is append-only");
        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log")).ShouldBe(["kept"]);
    }

    private BootstrapAdmin Bootstrap(Dictionary<string, string?> settings) =>
        new(Fixture.Services, new ConfigurationBuilder().AddInMemoryCollection(settings).Build(), NullLogger<BootstrapAdmin>.Instance);
}
