using System.Diagnostics;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Infrastructure.Data;

/// <summary>
/// Applies <c>db/migrations/NNNN_name.sql</c> (embedded in this assembly) in order: each file in its own transaction,
/// recorded with its SHA-256 in <c>public.schema_migrations</c>, all under one advisory lock so that replicas starting
/// together migrate once. A file that changed after it was applied stops the run with an error naming it.
/// </summary>
public sealed partial class Migrator(NpgsqlDataSource dataSource, ILogger<Migrator> logger)
{
    /// <summary>The advisory lock every replica takes before migrating ("Capstan" in ASCII).</summary>
    public const long AdvisoryLockKey = 0x43617073_74616E;

    private const string CreateHistoryTable = """
        CREATE TABLE IF NOT EXISTS public.schema_migrations (
            version text PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now(),
            execution_ms bigint NOT NULL
        )
        """;

    private const string LimitsForOneMigration = "SET LOCAL lock_timeout = '5s'; SET LOCAL statement_timeout = '10min'";

    public static IReadOnlyList<MigrationScript> EmbeddedScripts { get; } = LoadEmbeddedScripts();

    public Task<MigrationResult> MigrateAsync(CancellationToken cancellationToken) =>
        MigrateAsync(EmbeddedScripts, cancellationToken);

    public async Task<MigrationResult> MigrateAsync(IReadOnlyList<MigrationScript> scripts, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(" + AdvisoryLockKey + ")", cancellationToken);
        try
        {
            await ExecuteAsync(connection, null, CreateHistoryTable, cancellationToken);
            var applied = await ReadAppliedAsync(connection, cancellationToken);

            foreach (var script in scripts.Where(script => applied.ContainsKey(script.Version)))
            {
                if (applied[script.Version] != script.Checksum)
                {
                    throw new MigrationChangedException(script.FileName);
                }
            }

            var known = scripts.Select(script => script.Version).ToHashSet();
            foreach (var unknown in applied.Keys.Where(version => !known.Contains(version)))
            {
                logger.LogWarning("Migration {Version} is applied in the database but not known to this build", unknown);
            }

            var newlyApplied = new List<string>();
            foreach (var script in scripts.Where(script => !applied.ContainsKey(script.Version)))
            {
                var watch = Stopwatch.StartNew();
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                // A migration waiting on a lock held by live traffic fails fast (and start-up retries) instead of
                // queueing every other query behind it.
                await ExecuteAsync(connection, transaction, LimitsForOneMigration, cancellationToken);
                await ExecuteAsync(connection, transaction, script.Sql, cancellationToken);
                await using (var record = new NpgsqlCommand(
                    "INSERT INTO public.schema_migrations (version, name, checksum, execution_ms) VALUES (@version, @name, @checksum, @ms)",
                    connection,
                    transaction))
                {
                    record.Parameters.AddWithValue("version", script.Version);
                    record.Parameters.AddWithValue("name", script.Name);
                    record.Parameters.AddWithValue("checksum", script.Checksum);
                    record.Parameters.AddWithValue("ms", watch.ElapsedMilliseconds);
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }

                await transaction.CommitAsync(cancellationToken);
                logger.LogInformation("Applied migration {File} in {Elapsed} ms", script.FileName, watch.ElapsedMilliseconds);
                newlyApplied.Add(script.FileName);
            }

            return new MigrationResult(newlyApplied, applied.Count);
        }
        finally
        {
            await ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(" + AdvisoryLockKey + ")", CancellationToken.None);
        }
    }

    /// <summary>Parses migration files; names must be <c>NNNN_lower_snake.sql</c> with unique numbers.</summary>
    public static IReadOnlyList<MigrationScript> Parse(IEnumerable<(string FileName, string Content)> files)
    {
        var scripts = new List<MigrationScript>();
        foreach (var (fileName, content) in files)
        {
            var match = FileNamePattern().Match(fileName);
            if (!match.Success)
            {
                throw new InvalidOperationException($"Migration file '{fileName}' is not named NNNN_description.sql");
            }

            // Line endings are normalised so a checkout with CRLF does not look like an edited migration.
            var sql = content.Replace("\r\n", "\n", StringComparison.Ordinal);
            var checksum = Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(sql))).ToLowerInvariant();
            scripts.Add(new MigrationScript(match.Groups["version"].Value, match.Groups["name"].Value, fileName, sql, checksum));
        }

        var duplicate = scripts.GroupBy(script => script.Version).FirstOrDefault(group => group.Count() > 1);
        if (duplicate is not null)
        {
            throw new InvalidOperationException(
                $"Migration number {duplicate.Key} is used by more than one file: {string.Join(", ", duplicate.Select(s => s.FileName))}");
        }

        return [.. scripts.OrderBy(script => script.Version, StringComparer.Ordinal)];
    }

    private static IReadOnlyList<MigrationScript> LoadEmbeddedScripts()
    {
        var assembly = typeof(Migrator).Assembly;
        var files = assembly.GetManifestResourceNames()
            .Where(name => name.StartsWith("migrations/", StringComparison.Ordinal))
            .Select(name => (name["migrations/".Length..], ReadResource(assembly, name)));
        return Parse(files);
    }

    private static string ReadResource(Assembly assembly, string name)
    {
        using var stream = assembly.GetManifestResourceStream(name)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    private static async Task<Dictionary<string, string>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var applied = new Dictionary<string, string>(StringComparer.Ordinal);
        await using var command = new NpgsqlCommand("SELECT version, checksum FROM public.schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            applied[reader.GetString(0)] = reader.GetString(1);
        }

        return applied;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 600 };
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    [GeneratedRegex(@"^(?<version>\d{4})_(?<name>[a-z0-9_]+)\.sql$")]
    private static partial Regex FileNamePattern();
}

public sealed record MigrationScript(string Version, string Name, string FileName, string Sql, string Checksum);

public sealed record MigrationResult(IReadOnlyList<string> Applied, int AlreadyApplied);

/// <summary>An applied migration's file no longer matches what was applied: migrations are forward-only.</summary>
public sealed class MigrationChangedException(string fileName)
    : InvalidOperationException(
        $"Migration {fileName} was changed after it was applied (its checksum differs from schema_migrations). "
        + "Applied migrations are never edited: restore the file and add a new migration instead.")
{
    public string FileName { get; } = fileName;
}
