using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Infrastructure.Data;

/// <summary>
/// Where the database is. Configured by <c>ConnectionStrings:Default</c> (or <c>DATABASE_URL</c>); with neither, a
/// local cluster under <c>.data/</c> is created and started on first use and stopped again when this process started it.
/// </summary>
public sealed class DatabaseConnection : IDisposable
{
    private readonly LocalPostgresCluster? _localCluster;

    private DatabaseConnection(string primary, string read, LocalPostgresCluster? localCluster)
    {
        Primary = primary;
        Read = read;
        _localCluster = localCluster;
    }

    public string Primary { get; }

    public string Read { get; }

    public bool IsLocalCluster => _localCluster is not null;

    public static DatabaseConnection Resolve(IConfiguration configuration, ILogger logger)
    {
        var configured = configuration.GetConnectionString("Default");
        var url = configuration["DATABASE_URL"];
        var readOnly = configuration.GetConnectionString("ReadOnly");

        if (!string.IsNullOrWhiteSpace(configured))
        {
            logger.LogInformation("Using the database from ConnectionStrings:Default ({Target})", Describe(configured));
            return new DatabaseConnection(configured, string.IsNullOrWhiteSpace(readOnly) ? configured : readOnly, null);
        }

        if (!string.IsNullOrWhiteSpace(url))
        {
            var fromUrl = DatabaseUrl.ToConnectionString(url);
            logger.LogInformation("Using the database from DATABASE_URL ({Target})", Describe(fromUrl));
            return new DatabaseConnection(fromUrl, string.IsNullOrWhiteSpace(readOnly) ? fromUrl : readOnly, null);
        }

        var directory = LocalDataDirectory.Resolve(configuration);
        logger.LogWarning(
            "No connection string configured (ConnectionStrings__Default or DATABASE_URL): using a local PostgreSQL cluster under {Directory}",
            directory);
        var cluster = LocalPostgresCluster.Durable(directory);
        try
        {
            cluster.EnsureRunning(logger);
            cluster.EnsureDatabase("capstan");
        }
        catch
        {
            cluster.Dispose();
            throw;
        }

        var local = cluster.ConnectionString("capstan");
        return new DatabaseConnection(local, local, cluster);
    }

    /// <summary>Host, port and database of a connection string, never its credentials (for logs).</summary>
    public static string Describe(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"{builder.Host}:{builder.Port}/{builder.Database}";
    }

    public void Dispose() => _localCluster?.Dispose();
}
