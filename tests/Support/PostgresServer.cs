using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Capstan.Tests.Support;

/// <summary>
/// The PostgreSQL server of a test run: an ephemeral cluster made with the machine's initdb/pg_ctl (as the postgres
/// user when running as root), or the server named by <c>CAPSTAN_TEST_DATABASE_URL</c>. Once per process it creates a
/// template database migrated with the service's own migrator; every test database is a copy of it.
/// </summary>
public static class PostgresServer
{
    public const string TemplateDatabase = "capstan_template";

    private static readonly Lazy<Server> Instance = new(Start, LazyThreadSafetyMode.ExecutionAndPublication);
    private static int _databaseCounter;

    public static string AdminConnectionString => Instance.Value.AdminConnectionString;

    /// <summary>Creates a new database copied from the migrated template and returns its connection string.</summary>
    public static string CreateDatabase(string purpose)
    {
        var server = Instance.Value;
        var name = $"capstan_{purpose}_{Environment.ProcessId}_{Interlocked.Increment(ref _databaseCounter)}".ToLowerInvariant();
        using (var connection = new NpgsqlConnection(server.AdminConnectionString))
        {
            connection.Open();
            using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\" TEMPLATE \"{TemplateDatabase}\"", connection);
            create.ExecuteNonQuery();
        }

        return new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = name, MaxPoolSize = 30 }.ConnectionString;
    }

    /// <summary>Creates a new, empty database (no migrations) and returns its connection string.</summary>
    public static string CreateEmptyDatabase(string purpose)
    {
        var server = Instance.Value;
        var name = $"capstan_{purpose}_{Environment.ProcessId}_{Interlocked.Increment(ref _databaseCounter)}".ToLowerInvariant();
        using (var connection = new NpgsqlConnection(server.AdminConnectionString))
        {
            connection.Open();
            using var create = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            create.ExecuteNonQuery();
        }

        return new NpgsqlConnectionStringBuilder(server.AdminConnectionString) { Database = name }.ConnectionString;
    }

    private static Server Start()
    {
        string adminConnectionString;
        LocalPostgresCluster? cluster = null;
        var external = Environment.GetEnvironmentVariable("CAPSTAN_TEST_DATABASE_URL");
        if (!string.IsNullOrWhiteSpace(external))
        {
            adminConnectionString = external.StartsWith("postgres", StringComparison.Ordinal) ? DatabaseUrl.ToConnectionString(external) : external;
        }
        else
        {
            cluster = LocalPostgresCluster.Ephemeral();
            cluster.EnsureRunning(NullLogger.Instance);
            adminConnectionString = cluster.ConnectionString("postgres");
            AppDomain.CurrentDomain.ProcessExit += (_, _) => cluster.Dispose();
        }

        CreateTemplate(adminConnectionString);
        return new Server(adminConnectionString, cluster);
    }

    private static void CreateTemplate(string adminConnectionString)
    {
        var templateName = $"{TemplateDatabase}";
        using (var connection = new NpgsqlConnection(adminConnectionString))
        {
            connection.Open();
            using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{templateName}\" WITH (FORCE)", connection);
            drop.ExecuteNonQuery();
            using var create = new NpgsqlCommand($"CREATE DATABASE \"{templateName}\"", connection);
            create.ExecuteNonQuery();
        }

        var templateConnectionString = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = templateName, Pooling = false }.ConnectionString;
        using (var dataSource = NpgsqlDataSource.Create(templateConnectionString))
        {
            var migrator = new Migrator(dataSource, NullLogger<Migrator>.Instance);
            migrator.MigrateAsync(CancellationToken.None).GetAwaiter().GetResult();
        }

        using var templateConnection = new NpgsqlConnection(templateConnectionString);
        templateConnection.Open();
        using var install = new NpgsqlCommand(DatabaseReset.InstallSql, templateConnection);
        install.ExecuteNonQuery();
    }

    private sealed record Server(string AdminConnectionString, LocalPostgresCluster? Cluster);
}
