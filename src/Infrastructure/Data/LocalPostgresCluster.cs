using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Infrastructure.Data;

/// <summary>
/// A PostgreSQL cluster of the service's own, made with the machine's <c>initdb</c>/<c>pg_ctl</c>. Used when no
/// connection string is configured (a durable cluster under <c>.data/</c>) and by the test fixture (an ephemeral one
/// in a temporary directory). PostgreSQL refuses to run as root, so as root the tools run as the <c>postgres</c> user.
/// </summary>
public sealed class LocalPostgresCluster : IDisposable
{
    private const string StateFileName = "local-postgres.json";
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(90);

    private readonly string _root;
    private readonly bool _ephemeral;
    private readonly string _binDirectory;
    private State? _state;

    private LocalPostgresCluster(string root, bool ephemeral)
    {
        _root = Path.GetFullPath(root);
        _ephemeral = ephemeral;
        _binDirectory = PostgresBinaries.Directory();
    }

    public string DataDirectory => Path.Combine(_root, "postgres");

    public int Port => _state?.Port ?? throw new InvalidOperationException("The local cluster has not been started.");

    /// <summary>True when this process started the server (and so stops it on shutdown).</summary>
    public bool StartedHere { get; private set; }

    /// <summary>The durable development cluster kept under <paramref name="root"/> (normally <c>.data/</c>).</summary>
    public static LocalPostgresCluster Durable(string root) => new(root, ephemeral: false);

    private const string EphemeralPrefix = "capstan-pg-";

    /// <summary>A throw-away cluster in a new temporary directory, tuned for speed (no fsync), deleted on dispose.
    /// Clusters that earlier processes left behind are removed first (see <see cref="RemoveAbandoned"/>).</summary>
    public static LocalPostgresCluster Ephemeral()
    {
        RemoveAbandoned(Path.GetTempPath(), TimeSpan.FromMinutes(10));
        return new(Path.Combine(Path.GetTempPath(), EphemeralPrefix + Guid.NewGuid().ToString("N")[..12]), ephemeral: true);
    }

    /// <summary>
    /// Deletes the ephemeral clusters under <paramref name="tempDirectory"/> that no server runs on and that are older
    /// than <paramref name="minimumAge"/> (younger ones may be another process's, still being created). A test host
    /// is often ended right after its exit handlers begin, so the delete that follows stopping the server never ran
    /// and every run left its 1.3 GB cluster behind until the disk filled up.
    /// </summary>
    public static int RemoveAbandoned(string tempDirectory, TimeSpan minimumAge)
    {
        var removed = 0;
        foreach (var root in Directory.EnumerateDirectories(tempDirectory, EphemeralPrefix + "*"))
        {
            if (DateTime.UtcNow - Directory.GetLastWriteTimeUtc(root) < minimumAge || ServerRunsIn(Path.Combine(root, "postgres")))
            {
                continue;
            }

            try
            {
                Directory.Delete(root, recursive: true);
                removed++;
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                // Another process is removing it, or it is not ours to remove.
            }
        }

        return removed;
    }

    /// <summary>True when the data directory's <c>postmaster.pid</c> names a live process.</summary>
    private static bool ServerRunsIn(string dataDirectory)
    {
        var pidFile = Path.Combine(dataDirectory, "postmaster.pid");
        try
        {
            var firstLine = File.ReadLines(pidFile).FirstOrDefault();
            if (!int.TryParse(firstLine, out var pid))
            {
                return false;
            }

            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException or ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }

    public string ConnectionString(string database)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = "postgres",
            Database = database,
            Password = _state?.Password,
        };
        return builder.ConnectionString;
    }

    /// <summary>Creates the cluster on first use, starts it unless it already runs, and waits until it accepts connections.</summary>
    public void EnsureRunning(ILogger logger)
    {
        Directory.CreateDirectory(_root);
        if (!File.Exists(Path.Combine(DataDirectory, "PG_VERSION")))
        {
            logger.LogInformation("Creating a local PostgreSQL cluster in {DataDirectory}", DataDirectory);
            Initialise();
        }

        _state ??= ReadState();
        if (RunTool("pg_ctl", "status", "-D", DataDirectory).ExitCode == 0)
        {
            logger.LogInformation("Reusing the running local PostgreSQL cluster in {DataDirectory} on port {Port}", DataDirectory, Port);
            return;
        }

        var start = RunTool("pg_ctl", "start", "-w", "-t", "60", "-D", DataDirectory, "-l", Path.Combine(DataDirectory, "server.log"));
        if (start.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"Could not start the local PostgreSQL cluster in {DataDirectory} (see {Path.Combine(DataDirectory, "server.log")}): {start.Output}");
        }

        StartedHere = true;
        logger.LogInformation("Started the local PostgreSQL cluster in {DataDirectory} on 127.0.0.1:{Port}", DataDirectory, Port);
    }

    /// <summary>Creates <paramref name="database"/> when it does not exist yet.</summary>
    public void EnsureDatabase(string database)
    {
        using var connection = new NpgsqlConnection(ConnectionString("postgres"));
        connection.Open();
        using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = @name", connection);
        exists.Parameters.AddWithValue("name", database);
        if (exists.ExecuteScalar() is not null)
        {
            return;
        }

        // CREATE DATABASE takes no parameters; the name is quoted as an identifier.
        using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
        create.ExecuteNonQuery();
    }

    public void Stop()
    {
        if (_state is null || !Directory.Exists(DataDirectory))
        {
            return;
        }

        RunTool("pg_ctl", "stop", "-D", DataDirectory, "-m", "fast", "-w", "-t", "30");
        StartedHere = false;
    }

    public void Dispose()
    {
        if (_ephemeral)
        {
            Stop();
            try
            {
                Directory.Delete(_root, recursive: true);
            }
            catch (IOException)
            {
                // A server that is still shutting down may hold files for a moment; the OS cleans temp later.
            }
        }
        else if (StartedHere)
        {
            Stop();
        }
    }

    private void Initialise()
    {
        Directory.CreateDirectory(DataDirectory);
        var state = new State(FreePort(), _ephemeral ? null : Convert.ToHexString(RandomNumberGenerator.GetBytes(24)).ToLowerInvariant());
        GiveToPostgresUser(DataDirectory);

        var arguments = new List<string> { "-D", DataDirectory, "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8" };
        string? passwordDirectory = null;
        if (state.Password is null)
        {
            arguments.Add("--auth=trust");
        }
        else
        {
            // initdb reads the superuser password from a file the postgres user can read; it is deleted right after.
            passwordDirectory = Path.Combine(_root, ".initdb-" + Guid.NewGuid().ToString("N"));
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(passwordDirectory);
            }
            else
            {
                Directory.CreateDirectory(passwordDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }

            var passwordFile = Path.Combine(passwordDirectory, "pw");
            File.WriteAllText(passwordFile, state.Password);
            GiveToPostgresUser(passwordDirectory);
            arguments.AddRange(["--auth-local=trust", "--auth-host=scram-sha-256", "--pwfile=" + passwordFile]);
        }

        try
        {
            var init = RunTool("initdb", [.. arguments]);
            if (init.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed for {DataDirectory}: {init.Output}");
            }
        }
        finally
        {
            if (passwordDirectory is not null)
            {
                Directory.Delete(passwordDirectory, recursive: true);
            }
        }

        // Settings go into the cluster's own configuration so a later start needs no options.
        var settings = new List<string>
        {
            "",
            "# Written by Capstan when it created this cluster.",
            "listen_addresses = '127.0.0.1'",
            $"port = {state.Port}",
            "unix_socket_directories = ''",
            "max_connections = 300",
        };
        if (_ephemeral)
        {
            settings.AddRange(["fsync = off", "synchronous_commit = off", "full_page_writes = off"]);
        }

        File.AppendAllLines(Path.Combine(DataDirectory, "postgresql.conf"), settings);
        WriteState(state);
        _state = state;
    }

    private State ReadState()
    {
        var path = Path.Combine(_root, StateFileName);
        if (!File.Exists(path))
        {
            throw new InvalidOperationException(
                $"{path} is missing, so the local cluster's port and password are unknown. Delete {DataDirectory} to create a new cluster.");
        }

        return JsonSerializer.Deserialize<State>(File.ReadAllText(path))
            ?? throw new InvalidOperationException($"{path} is not valid.");
    }

    private void WriteState(State state)
    {
        var path = Path.Combine(_root, StateFileName);
        File.WriteAllText(path, JsonSerializer.Serialize(state));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static void GiveToPostgresUser(string path)
    {
        if (!Environment.IsPrivilegedProcess)
        {
            return;
        }

        var chown = Run("chown", ["-R", "postgres:postgres", path]);
        if (chown.ExitCode != 0)
        {
            throw new InvalidOperationException($"Running as root, but could not hand {path} to the postgres user: {chown.Output}");
        }
    }

    private ToolResult RunTool(string tool, params string[] arguments)
    {
        var executable = Path.Combine(_binDirectory, tool);
        return Environment.IsPrivilegedProcess
            ? Run("runuser", ["-u", "postgres", "--", executable, .. arguments])
            : Run(executable, arguments);
    }

    private static ToolResult Run(string fileName, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {fileName}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(ToolTimeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} did not finish within {ToolTimeout.TotalSeconds} s");
        }

        return new ToolResult(process.ExitCode, (stdout.Result + stderr.Result).Trim());
    }

    private sealed record State(int Port, string? Password);

    private sealed record ToolResult(int ExitCode, string Output);
}
