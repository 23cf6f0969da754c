using System.Security.Cryptography;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Health;
using Capstan.Infrastructure.Security;
using Dapper;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Identity;

/// <summary>
/// On an empty database, creates the <c>admin</c> user (DESIGN §3) before the service reports ready: with
/// <c>CAPSTAN_ADMIN_PASSWORD</c>, or with a generated password printed once to standard error (never to the log).
/// Either way the account is flagged to change its password. Replicas starting together create it once.
/// <c>Identity:BootstrapAdmin=false</c> skips it.
/// </summary>
public sealed class BootstrapAdmin(IServiceProvider services, IConfiguration configuration, ILogger<BootstrapAdmin> logger) : IStartupTask
{
    private const string Create = """
        INSERT INTO identity.users (id, username, email, name, password_hash, role, requires_password_change)
        SELECT @Id, 'admin', 'admin@capstan.local', 'Administrator', @Hash, 'admin', true
        WHERE NOT EXISTS (SELECT 1 FROM identity.users)
        ON CONFLICT DO NOTHING
        RETURNING id
        """;

    private const string AnyUser = "SELECT EXISTS (SELECT 1 FROM identity.users)";

    // Before the migrations: a database without the users table is a new one, whose admin will be created.
    private const string IsNewDatabase = "SELECT to_regclass('identity.users') IS NULL";

    private const string Audit = """
        INSERT INTO identity.audit_log (id, actor_type, actor_name, action, resource_type, resource_id, resource_name, correlation_id, metadata)
        VALUES (@AuditId, 'system', 'system:bootstrap', 'auth.bootstrap_admin', 'user', @UserId, 'admin', @AuditId, CAST(@Metadata AS jsonb))
        """;

    private PreparedPassword? _prepared;

    /// <summary>Whether <see cref="PrepareAsync"/> left a hashed password for <see cref="RunAsync"/> to use.</summary>
    internal bool HasPreparedPassword => _prepared is not null;

    private bool Enabled => configuration.GetValue("Identity:BootstrapAdmin", true);

    /// <summary>On a new database, chooses the password and computes its hash (a deliberately slow computation) while
    /// the migrations run, so start-up does not wait for it afterwards.</summary>
    public async Task PrepareAsync(CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return;
        }

        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition(IsNewDatabase, cancellationToken: cancellationToken)))
        {
            var (password, generated) = ChoosePassword();
            _prepared = new PreparedPassword(password, generated, Passwords.Hash(password));
        }
    }

    public async Task RunAsync(CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return;
        }

        var prepared = _prepared;
        _prepared = null;
        var (password, generated) = prepared is null ? ChoosePassword() : (prepared.Password, prepared.Generated);
        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        // Every restart after the first finds users: skip the password hash.
        if (await connection.ExecuteScalarAsync<bool>(new CommandDefinition(AnyUser, cancellationToken: cancellationToken)))
        {
            return;
        }

        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var userId = await connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(
            Create, new { Id = Guid.CreateVersion7(), Hash = prepared?.Hash ?? Passwords.Hash(password) }, transaction, cancellationToken: cancellationToken));
        if (userId is null)
        {
            return;
        }

        await connection.ExecuteAsync(new CommandDefinition(
            Audit,
            new { AuditId = Guid.CreateVersion7(), UserId = userId.ToString(), Metadata = AuditTrail.RedactedJson(new { generated }) },
            transaction,
            cancellationToken: cancellationToken));
        await transaction.CommitAsync(cancellationToken);

        if (generated)
        {
            // Printed once for the operator; deliberately not a log line, so it never reaches log storage.
            await Console.Error.WriteLineAsync($"Capstan created the user 'admin' with the password: {password}  (change it after signing in)");
        }

        logger.LogWarning("Created the initial admin user 'admin'; it must change its password");
    }

    /// <summary><c>CAPSTAN_ADMIN_PASSWORD</c> when it is strong enough, otherwise a generated one.</summary>
    private (string Password, bool Generated) ChoosePassword()
    {
        var configured = configuration["CAPSTAN_ADMIN_PASSWORD"];
        if (string.IsNullOrEmpty(configured))
        {
            return (Generate(), true);
        }

        if (Passwords.Weakness(configured) is { } weakness)
        {
            logger.LogWarning("CAPSTAN_ADMIN_PASSWORD is too weak ({Weakness}); generating one instead", weakness);
            return (Generate(), true);
        }

        return (configured, false);
    }

    private static string Generate() =>
        Convert.ToBase64String(RandomNumberGenerator.GetBytes(18)).Replace('+', 'x').Replace('/', 'y') + "-Aa9";

    private sealed record PreparedPassword(string Password, bool Generated, string Hash);
}
