using Npgsql;

namespace Capstan.Infrastructure.Data;

/// <summary>Where the machine's PostgreSQL programs are (<c>initdb</c>, <c>pg_ctl</c>, <c>pg_dump</c>,
/// <c>pg_restore</c>): <c>CAPSTAN_PG_BIN</c>, else the newest <c>/usr/lib/postgresql/*/bin</c>, else PATH.</summary>
public static class PostgresBinaries
{
    public static string Directory() =>
        TryDirectory() ?? throw new InvalidOperationException(
            "No PostgreSQL server binaries found (initdb, pg_ctl). Install PostgreSQL 15+, set CAPSTAN_PG_BIN, "
            + "or configure ConnectionStrings__Default / DATABASE_URL.");

    /// <summary>The full path of <paramref name="tool"/>, or null when it is not installed.</summary>
    public static string? Find(string tool)
    {
        var directory = TryDirectory(tool);
        return directory is null ? null : Path.Combine(directory, tool);
    }

    /// <summary>libpq environment variables for a connection string, so tools never see credentials on their
    /// command line (where other users could read them).</summary>
    public static IReadOnlyDictionary<string, string> Environment(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        var environment = new Dictionary<string, string>
        {
            ["PGHOST"] = builder.Host ?? "localhost",
            ["PGPORT"] = builder.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["PGDATABASE"] = builder.Database ?? "postgres",
            ["PGUSER"] = builder.Username ?? "postgres",
            ["PGCONNECT_TIMEOUT"] = "10",
        };
        if (!string.IsNullOrEmpty(builder.Password))
        {
            environment["PGPASSWORD"] = builder.Password;
        }

        if (builder.SslMode != SslMode.Prefer)
        {
            environment["PGSSLMODE"] = builder.SslMode.ToString().ToLowerInvariant() switch
            {
                "verifyca" => "verify-ca",
                "verifyfull" => "verify-full",
                var mode => mode,
            };
        }

        return environment;
    }

    private static string? TryDirectory(string tool = "initdb")
    {
        var configured = System.Environment.GetEnvironmentVariable("CAPSTAN_PG_BIN");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return configured;
        }

        const string DebianRoot = "/usr/lib/postgresql";
        if (System.IO.Directory.Exists(DebianRoot))
        {
            var newest = System.IO.Directory.GetDirectories(DebianRoot)
                .Select(directory => (directory, version: int.TryParse(Path.GetFileName(directory), out var v) ? v : 0))
                .Where(candidate => File.Exists(Path.Combine(candidate.directory, "bin", tool)))
                .OrderByDescending(candidate => candidate.version)
                .Select(candidate => Path.Combine(candidate.directory, "bin"))
                .FirstOrDefault();
            if (newest is not null)
            {
                return newest;
            }
        }

        return (System.Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .FirstOrDefault(directory => File.Exists(Path.Combine(directory, tool)));
    }
}
