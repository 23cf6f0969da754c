using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Dapper;
using Npgsql;

namespace Capstan.Api.Tests.Replicas;

/// <summary>One API process: the built <c>Capstan.Api.dll</c> run with <c>dotnet</c> on a loopback port, its console
/// output kept for the tests.</summary>
public sealed class ApiReplica : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private ApiReplica(int index, int port, Process process)
    {
        Index = index;
        Port = port;
        _process = process;
        Client = new HttpClient { BaseAddress = new Uri(BaseUrl), Timeout = TimeSpan.FromSeconds(60) };
        process.OutputDataReceived += (_, line) => Keep(line.Data);
        process.ErrorDataReceived += (_, line) => Keep(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public int Index { get; }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public HttpClient Client { get; }

    public string Output => string.Join('\n', _output);

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    public static ApiReplica Start(int index, string connectionString, IReadOnlyDictionary<string, string> settings)
    {
        var port = FreePort();
        var dll = ApiDll();
        var start = new ProcessStartInfo("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll)!,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.Environment["ASPNETCORE_ENVIRONMENT"] = "Production";
        start.Environment["DOTNET_ENVIRONMENT"] = "Production";
        start.Environment["ConnectionStrings__Default"] = connectionString;
        start.Environment["Urls"] = $"http://127.0.0.1:{port}";
        start.Environment["Crypto__MasterKey"] = ApiFactory.TestMasterKey;
        start.Environment["Identity__BootstrapAdmin"] = "false";
        start.Environment["Logging__Console__FormatterName"] = "simple";
        start.Environment["Backups__Directory"] = Path.Combine(Path.GetTempPath(), $"capstan-replica-backups-{Guid.NewGuid():N}");
        foreach (var (key, value) in settings)
        {
            start.Environment[key] = value;
        }

        return new ApiReplica(index, port, Process.Start(start)!);
    }

    /// <summary>Waits until <c>/api/v1/ready</c> answers 200.</summary>
    public async Task WaitReadyAsync(TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"replica {Index} exited with {_process.ExitCode}:\n{Output}");
            }

            try
            {
                using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                if ((await Client.GetAsync("/api/v1/ready", cancel.Token)).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"replica {Index} did not become ready:\n{Output}");
    }

    /// <summary>SIGKILL: the process dies at once, mid-request.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>SIGTERM: the host's graceful shutdown.</summary>
    public void Terminate()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    public Task WaitForExitAsync(TimeSpan timeout) => _process.WaitForExitAsync(new CancellationTokenSource(timeout).Token);

    public int ExitCode => _process.ExitCode;

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The service as built next to these tests (same configuration).</summary>
    public static string ApiDll()
    {
        var configuration = AppContext.BaseDirectory.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
        var dll = Path.Combine(RepositoryFiles.Root, "src", "Api", "bin", configuration, "net10.0", "Capstan.Api.dll");
        return File.Exists(dll) ? dll : throw new FileNotFoundException("Build the service first", dll);
    }

    private void Keep(string? line)
    {
        if (line is not null)
        {
            _output.Enqueue(line);
        }
    }
}

/// <summary>nginx (Debian's package) in front of the replicas, started by the test with a generated configuration in a
/// temporary directory (pid, logs and temp paths there, so it runs as any user). Null when nginx is not installed.</summary>
public sealed class NginxBalancer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly string _directory;

    private NginxBalancer(Process process, string directory, int port)
    {
        _process = process;
        _directory = directory;
        Port = port;
    }

    public int Port { get; }

    public string BaseUrl => $"http://127.0.0.1:{Port}";

    public static string? Binary() =>
        new[] { "/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx" }.FirstOrDefault(File.Exists);

    public static async Task<NginxBalancer?> StartAsync(IEnumerable<int> upstreamPorts)
    {
        if (Binary() is not { } nginx)
        {
            Environment.GetEnvironmentVariable("CAPSTAN_REQUIRE_NGINX").ShouldNotBe("1", "nginx is required here (Debian package nginx-light)");
            return null;
        }

        var directory = Directory.CreateTempSubdirectory("capstan-nginx-").FullName;
        File.SetUnixFileMode(directory, (UnixFileMode)0x1FF);
        var port = ApiReplica.FreePort();
        var upstreams = string.Join('\n', upstreamPorts.Select(upstream => $"        server 127.0.0.1:{upstream} max_fails=1 fail_timeout=2s;"));
        var config = $$"""
            worker_processes 1;
            daemon off;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 1024; }
            http {
                access_log off;
                client_body_temp_path {{directory}}/body;
                proxy_temp_path {{directory}}/proxy;
                fastcgi_temp_path {{directory}}/fastcgi;
                uwsgi_temp_path {{directory}}/uwsgi;
                scgi_temp_path {{directory}}/scgi;
                client_max_body_size 16m;
                map $http_upgrade $connection_upgrade { default upgrade; '' ''; }
                upstream capstan {
            {{upstreams}}
                }
                server {
                    listen 127.0.0.1:{{port}};
                    location / {
                        proxy_pass http://capstan;
                        proxy_http_version 1.1;
                        proxy_set_header Upgrade $http_upgrade;
                        proxy_set_header Connection $connection_upgrade;
                        proxy_set_header Host $host;
                        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
                        proxy_set_header X-Forwarded-Proto $scheme;
                        proxy_buffering off;
                        proxy_read_timeout 300s;
                        proxy_next_upstream error timeout http_502;
                    }
                }
            }
            """;
        var file = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(file, config);
        var process = Process.Start(new ProcessStartInfo(nginx, ["-c", file, "-p", directory, "-e", Path.Combine(directory, "error.log")])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        })!;
        var balancer = new NginxBalancer(process, directory, port);
        using var probe = new HttpClient();
        for (var i = 0; i < 100; i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException("nginx exited: " + await process.StandardError.ReadToEndAsync() + File.ReadAllText(Path.Combine(directory, "error.log")));
            }

            try
            {
                await probe.GetAsync($"{balancer.BaseUrl}/api/v1/health");
                return balancer;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(50);
            }
        }

        throw new TimeoutException("nginx did not start");
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Users and API keys written straight to a replica set's database (as TestAccounts does for in-process hosts).</summary>
public static class ReplicaAccounts
{
    private static readonly Lazy<string> Hash = new(() => Passwords.Hash(TestAccounts.Password));

    public static async Task<(Guid Id, string ApiKey)> CreateAsync(string connectionString, BaseRole role, string? name = null)
    {
        var id = Guid.CreateVersion7();
        var username = name ?? $"{role.Name()}-{id.ToString("N")[^10..]}";
        var key = SecretTokens.Generate("cap_");
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.ExecuteAsync(
            """
            INSERT INTO identity.users (id, username, email, name, password_hash, role, active) VALUES (@Id, @Username, @Email, @Username, @Hash, @Role, true);
            INSERT INTO identity.api_keys (id, user_id, name, key_hash, key_prefix, role) VALUES (@KeyId, @Id, 'replica test', @KeyHash, @Prefix, NULL);
            """,
            new { Id = id, Username = username, Email = $"{username}@example.test", Hash = Hash.Value, Role = role.Name(), KeyId = Guid.CreateVersion7(), KeyHash = SecretTokens.Hash(key), Prefix = key[..12] });
        return (id, key);
    }

    public static HttpClient Client(string baseUrl, string apiKey)
    {
        var client = new HttpClient { BaseAddress = new Uri(baseUrl), Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        return client;
    }
}
