using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Dapper;
using Npgsql;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Replicas;

/// <summary>Three API processes started together on one empty database, behind nginx.</summary>
public sealed class ReplicaSetFixture : IAsyncLifetime
{
    public const int PerUserLimit = 60;

    public string ConnectionString { get; private set; } = string.Empty;

    public List<ApiReplica> Replicas { get; } = [];

    public NginxBalancer? Nginx { get; private set; }

    public TimeSpan StartedIn { get; private set; }

    /// <summary>Where clients go: nginx when installed, else the first replica.</summary>
    public string FrontUrl => Nginx?.BaseUrl ?? Replicas[0].BaseUrl;

    public async Task InitializeAsync()
    {
        ConnectionString = PostgresServer.CreateEmptyDatabase("replicas");
        var settings = new Dictionary<string, string>
        {
            ["Database__MigrateOnStartup"] = "true",
            ["Api__TrustForwardedHeaders"] = "true",
            ["RateLimits__PerIp__Limit"] = "0",
            ["RateLimits__PerUser__Limit"] = PerUserLimit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["RateLimits__PerUser__WindowSeconds"] = "600",
            ["Jobs__Enabled"] = "false",
        };
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < 3; i++)
        {
            Replicas.Add(ApiReplica.Start(i, ConnectionString, settings));
        }

        await Task.WhenAll(Replicas.Select(replica => replica.WaitReadyAsync(TimeSpan.FromSeconds(180))));
        StartedIn = clock.Elapsed;
        Nginx = await NginxBalancer.StartAsync(Replicas.Select(replica => replica.Port));
    }

    public async Task DisposeAsync()
    {
        if (Nginx is not null)
        {
            await Nginx.DisposeAsync();
        }

        foreach (var replica in Replicas)
        {
            await replica.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ReplicaSetCollection : ICollectionFixture<ReplicaSetFixture>
{
    public const string Name = "replicas";
}

/// <summary>
/// Many replicas, one database (DESIGN §7): everything once-only holds across processes because PostgreSQL decides
/// it. Migrations run once when the three start together; a live event raised on one replica reaches SSE subscribers
/// on the others; a WebSocket ticket and a wrap are used once whichever replicas race for them; job claims are
/// exclusive; the rate-limit window is one window; a command reaches an agent whose socket is held by another replica;
/// and traffic through nginx reaches every replica.
/// </summary>
[Collection(ReplicaSetCollection.Name)]
public sealed partial class ManyReplicasTests(ReplicaSetFixture set, ITestOutputHelper output)
{
    private List<ApiReplica> Replicas => set.Replicas;

    [Fact]
    public async Task Migrations_run_once_when_three_replicas_start_together()
    {
        var applied = Replicas.Select(replica => AppliedNow().Match(replica.Output) is { Success: true } match ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : -1).ToList();
        await using var connection = new NpgsqlConnection(set.ConnectionString);
        var versions = (await connection.QueryAsync<string>("SELECT version::text FROM schema_migrations")).ToList();

        output.WriteLine($"three replicas ready in {set.StartedIn.TotalSeconds:F1} s on an empty database; migrations applied now per replica: {string.Join(", ", applied)}; recorded: {versions.Count} of {ApiFixture.Migrations.Count}");
        applied.ShouldAllBe(count => count >= 0, "every replica reports its migration result");
        applied.Sum().ShouldBe(ApiFixture.Migrations.Count);
        versions.Count.ShouldBe(ApiFixture.Migrations.Count);
        versions.Distinct().Count().ShouldBe(versions.Count);
    }

    [NginxFact]
    public async Task Traffic_through_nginx_reaches_every_replica()
    {
        set.Nginx.ShouldNotBeNull("the replica set starts nginx whenever it is installed");

        var (_, key) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Viewer);
        using var client = ReplicaAccounts.Client(set.FrontUrl, key);
        var before = await RequestCountsAsync();
        for (var i = 0; i < 30; i++)
        {
            (await client.GetAsync("/api/v1/permissions")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        var after = await RequestCountsAsync();
        var served = after.Select((count, i) => count - before[i]).ToList();
        output.WriteLine($"30 requests through nginx served per replica: {string.Join(", ", served)}");
        served.ShouldAllBe(count => count > 0);
    }

    [Fact]
    public async Task An_event_raised_on_one_replica_reaches_sse_subscribers_on_the_others()
    {
        var (_, key) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Developer);
        using var writer = ReplicaAccounts.Client(Replicas[0].BaseUrl, key);
        var instance = await (await writer.PostAsJsonAsync("/api/v1/instances", new { name = $"sse-{Guid.NewGuid():N}"[..20], provider = "docker" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = instance.GetProperty("id").GetString();

        var readers = new List<(HttpClient Client, HttpResponseMessage Response, StreamReader Reader)>();
        foreach (var replica in Replicas.Skip(1))
        {
            var client = ReplicaAccounts.Client(replica.BaseUrl, key);
            var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/v1/instances/{id}/logs/stream"), HttpCompletionOption.ResponseHeadersRead);
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            readers.Add((client, response, new StreamReader(await response.Content.ReadAsStreamAsync())));
        }

        await Task.Delay(500); // the subscriptions are registered once the stream has started
        var marker = $"cross-replica-{Guid.NewGuid():N}";
        var clock = Stopwatch.StartNew();
        (await writer.PostAsJsonAsync("/api/v1/logs/ingest", new { instanceId = id, level = "INFO", source = "APP", message = marker })).IsSuccessStatusCode.ShouldBeTrue();
        var latencies = await Task.WhenAll(readers.Select(async reader =>
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
            while (await reader.Reader.ReadLineAsync(deadline.Token) is { } line)
            {
                if (line.Contains(marker, StringComparison.Ordinal))
                {
                    return clock.Elapsed.TotalMilliseconds;
                }
            }

            return -1;
        }));

        foreach (var reader in readers)
        {
            reader.Response.Dispose();
            reader.Client.Dispose();
        }

        output.WriteLine($"log line ingested on replica 0 reached the SSE tails on replicas 1 and 2 after {string.Join(" and ", latencies.Select(ms => $"{ms:F0} ms"))}");
        latencies.ShouldAllBe(ms => ms >= 0);
    }

    [Fact]
    public async Task A_websocket_ticket_is_used_once_across_replicas()
    {
        var (_, key) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Developer);
        using var client = ReplicaAccounts.Client(Replicas[0].BaseUrl, key);
        var name = $"ticket-{Guid.NewGuid():N}"[..20];
        (await client.PostAsJsonAsync("/api/v1/instances", new { name, provider = "docker" })).StatusCode.ShouldBe(HttpStatusCode.Created);
        var ticket = (await (await client.PostAsync("/api/v1/ws/ticket", null)).ShouldBeJsonAsync()).GetProperty("ticket").GetString()!;

        var outcomes = await Task.WhenAll(Replicas.Select(async replica =>
        {
            using var socket = new ClientWebSocket();
            socket.Options.CollectHttpResponseDetails = true;
            socket.Options.SetRequestHeader("X-Instance-ID", name);
            try
            {
                await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{replica.Port}/ws/agent?ticket={Uri.EscapeDataString(ticket)}"), CancellationToken.None);
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
                return 101;
            }
            catch (WebSocketException)
            {
                return (int)socket.HttpStatusCode;
            }
        }));

        output.WriteLine($"one ticket raced on three replicas: {string.Join(", ", outcomes)}");
        outcomes.Count(status => status == 101).ShouldBe(1);
        outcomes.Where(status => status != 101).ShouldAllBe(status => status == 401);
    }

    [Fact]
    public async Task Job_claims_are_exclusive_and_wraps_single_use_across_replicas()
    {
        const int Requests = 6;
        var (_, adminKey) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Admin);
        var (_, developerKey) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Developer);
        var (_, approverKey) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Operator);
        using var admin = ReplicaAccounts.Client(Replicas[0].BaseUrl, adminKey);
        using var developer = ReplicaAccounts.Client(Replicas[1].BaseUrl, developerKey);
        using var approver = ReplicaAccounts.Client(Replicas[2].BaseUrl, approverKey);
        var agent = await (await admin.PostAsJsonAsync("/api/v1/agents", new { name = $"replica-agent-{Guid.NewGuid():N}"[..24] })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var agentId = agent.GetProperty("id").GetString();
        var secret = agent.GetProperty("agent_secret").GetString()!;
        var agents = Replicas.Select(replica =>
        {
            var client = new HttpClient { BaseAddress = new Uri(replica.BaseUrl) };
            client.DefaultRequestHeaders.Add(AgentAuthenticated.HeaderName, secret);
            return client;
        }).ToList();
        var privateKey = RandomNumberGenerator.GetBytes(32);
        (await agents[0].PutAsJsonAsync($"/api/v1/agents/{agentId}/public-key", new { public_key = Convert.ToBase64String(IndependentSealing.PublicKey(privateKey)), public_key_algorithm = "x25519" }))
            .IsSuccessStatusCode.ShouldBeTrue();

        for (var i = 0; i < Requests; i++)
        {
            var request = await (await developer.PostAsJsonAsync("/api/v1/requests", new
            {
                target_provider_type = "vault",
                target_provider_config = new { mount = "kv" },
                target_secret_ref = $"replicas/{i}",
                key_values = new Dictionary<string, string> { ["PASSWORD"] = $"value-{i}" },
                justification = "replica test",
            })).ShouldBeJsonAsync(HttpStatusCode.Created);
            (await approver.PostAsJsonAsync($"/api/v1/requests/{request.GetProperty("id").GetString()}/approve", new { comment = "ok" })).IsSuccessStatusCode.ShouldBeTrue();
        }

        // Three claimers, one per replica, race until the queue is empty.
        var claimed = new ConcurrentBag<(int Replica, JsonElement Job)>();
        var claims = 0;
        await Task.WhenAll(agents.Select(async (client, replica) =>
        {
            while (true)
            {
                Interlocked.Increment(ref claims);
                var response = await client.PostAsync($"/api/v1/agents/{agentId}/jobs/claim", null);
                if (response.StatusCode == HttpStatusCode.NoContent)
                {
                    return;
                }

                claimed.Add((replica, await response.ShouldBeJsonAsync()));
            }
        }));

        var jobIds = claimed.Select(job => job.Job.GetProperty("id").GetString()).ToList();
        output.WriteLine($"{Requests} approved requests, {claims} claims raced on three replicas: {jobIds.Count} jobs claimed ({jobIds.Distinct().Count()} distinct), per replica {string.Join(", ", Enumerable.Range(0, 3).Select(r => claimed.Count(job => job.Replica == r)))}");
        jobIds.Count.ShouldBe(Requests);
        jobIds.Distinct().Count().ShouldBe(Requests);

        // Each wrap is fetched by all three replicas at once: exactly one gets it, the others 410.
        var outcomes = new List<int[]>();
        foreach (var (_, job) in claimed)
        {
            var wrapId = job.GetProperty("payload").GetProperty("wraps")[0].GetProperty("wrap_id").GetString();
            outcomes.Add(await Task.WhenAll(agents.Select(async client => (int)(await client.GetAsync($"/api/v1/agents/{agentId}/wraps/{wrapId}")).StatusCode)));
        }

        output.WriteLine($"{outcomes.Count} wraps each fetched by three replicas at once: {string.Join("; ", outcomes.Select(o => string.Join('/', o)))}");
        outcomes.ShouldAllBe(o => o.Count(status => status == 200) == 1 && o.Count(status => status == 410) == 2);
        foreach (var client in agents)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task The_rate_limit_window_is_shared_by_the_replicas()
    {
        var (_, key) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Viewer);
        var clients = Replicas.Select(replica => ReplicaAccounts.Client(replica.BaseUrl, key)).ToList();
        var answers = new List<int>();
        for (var i = 0; i < ReplicaSetFixture.PerUserLimit + 15; i++)
        {
            answers.Add((int)(await clients[i % 3].GetAsync("/api/v1/permissions")).StatusCode);
        }

        output.WriteLine($"{answers.Count} requests round-robin over three replicas with a per-user limit of {ReplicaSetFixture.PerUserLimit}: {answers.Count(a => a == 200)} × 200, {answers.Count(a => a == 429)} × 429");
        answers.Count(a => a == 200).ShouldBe(ReplicaSetFixture.PerUserLimit);
        answers.Skip(ReplicaSetFixture.PerUserLimit).ShouldAllBe(a => a == 429);
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task A_command_reaches_an_agent_whose_socket_is_on_another_replica()
    {
        var (_, key) = await ReplicaAccounts.CreateAsync(set.ConnectionString, BaseRole.Developer);
        using var client = ReplicaAccounts.Client(Replicas[2].BaseUrl, key);
        var name = $"cmd-{Guid.NewGuid():N}"[..20];
        var instance = await (await client.PostAsJsonAsync("/api/v1/instances", new { name, provider = "docker" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = instance.GetProperty("id").GetString();

        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", $"Bearer {key}");
        socket.Options.SetRequestHeader("X-Instance-ID", id!);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{Replicas[1].Port}/ws/agent"), CancellationToken.None);
        await ReceiveAsync(socket, "log:subscribe");
        await Task.Delay(300);

        var clock = Stopwatch.StartNew();
        var command = client.PostAsJsonAsync("/api/v1/commands", new { instanceId = id, command = "hostname", timeoutMs = 15000 });
        var dispatch = await ReceiveAsync(socket, "command:dispatch");
        var dispatched = clock.Elapsed;
        var commandId = dispatch.GetProperty("payload").GetProperty("command_id").GetString();
        var result = JsonSerializer.Serialize(new
        {
            protocol_version = "1.0",
            type = "command:result",
            payload = new { command_id = commandId, exit_code = 0, stdout = "replica-1-host", stderr = string.Empty, duration_ms = 3 },
        });
        await socket.SendAsync(Encoding.UTF8.GetBytes(result), WebSocketMessageType.Text, true, CancellationToken.None);
        var body = await (await command).ShouldBeJsonAsync(HttpStatusCode.Created);

        using var reader = ReplicaAccounts.Client(Replicas[0].BaseUrl, key);
        var detail = await (await reader.GetAsync($"/api/v1/commands/{body.GetProperty("id").GetString()}")).ShouldBeJsonAsync();
        output.WriteLine($"command sent to replica 2, dispatched by replica 1 to the agent after {dispatched.TotalMilliseconds:F0} ms, result {body.GetProperty("status").GetString()} read on replica 0 after {clock.Elapsed.TotalMilliseconds:F0} ms");
        body.GetProperty("stdout").GetString().ShouldBe("replica-1-host");
        detail.GetProperty("stdout").GetString().ShouldBe("replica-1-host");
        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
    }

    private static async Task<JsonElement> ReceiveAsync(ClientWebSocket socket, string type)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        var buffer = new byte[64 * 1024];
        while (true)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult received;
            do
            {
                received = await socket.ReceiveAsync(buffer, deadline.Token);
                message.Write(buffer, 0, received.Count);
            }
            while (!received.EndOfMessage);

            var element = JsonDocument.Parse(message.ToArray()).RootElement.Clone();
            if (element.GetProperty("type").GetString() == type)
            {
                return element;
            }
        }
    }

    private async Task<List<double>> RequestCountsAsync()
    {
        var counts = new List<double>();
        foreach (var replica in Replicas)
        {
            var text = await replica.Client.GetStringAsync("/metrics");
            counts.Add(RequestsTotal().Matches(text).Sum(match => double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }

        return counts;
    }

    [GeneratedRegex(@"Migrations: (\d+) applied now")]
    private static partial Regex AppliedNow();

    [GeneratedRegex(@"^http_server_request_duration_seconds_count\{[^}]*http_route=""/api/v1/permissions""[^}]*\} (\S+)$", RegexOptions.Multiline)]
    private static partial Regex RequestsTotal();
}
