using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Replicas;

[CollectionDefinition(Name)]
public sealed class FaultCollection
{
    public const string Name = "faults";
}

/// <summary>
/// Faults (DESIGN §7), each on API processes of its own: a replica killed with SIGKILL under write load loses no
/// acknowledged write and leaves nothing half-written (checked against a ledger the test keeps); PostgreSQL stopped
/// under load turns readiness to 503 within seconds, requests answer 503 (never 500, never past their timeout) and
/// the service recovers by itself when PostgreSQL is back; SIGTERM lets in-flight requests finish and ends SSE
/// streams with a final event.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class FaultTests(ITestOutputHelper output)
{
    private static readonly Dictionary<string, string> Settings = new()
    {
        ["Database__MigrateOnStartup"] = "false",
        ["Jobs__Enabled"] = "false",
        ["RateLimits__PerIp__Limit"] = "0",
        ["RateLimits__PerUser__Limit"] = "0",
        ["Fleet__Commands__GraceMs"] = "200",
    };

    [Fact]
    public async Task A_replica_killed_under_write_load_loses_no_acknowledged_write()
    {
        var database = PostgresServer.CreateDatabase("faults_kill");
        await using var first = ApiReplica.Start(0, database, Settings);
        await using var second = ApiReplica.Start(1, database, Settings);
        await Task.WhenAll(first.WaitReadyAsync(TimeSpan.FromSeconds(120)), second.WaitReadyAsync(TimeSpan.FromSeconds(120)));
        var (_, key) = await ReplicaAccounts.CreateAsync(database, BaseRole.Admin);
        var clients = new[] { ReplicaAccounts.Client(first.BaseUrl, key), ReplicaAccounts.Client(second.BaseUrl, key) };
        foreach (var client in clients)
        {
            client.Timeout = TimeSpan.FromSeconds(20);
        }

        var ledger = new ConcurrentBag<(string Name, int Replica, string Outcome)>();
        using var stop = new CancellationTokenSource();
        var counter = 0;
        var writers = Enumerable.Range(0, 6).Select(writer => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var n = Interlocked.Increment(ref counter);
                var name = $"ledger-{n}";
                var replica = n % 2;
                try
                {
                    var response = await clients[replica].PostAsJsonAsync("/api/v1/instances", new { name, provider = "docker" });
                    ledger.Add((name, replica, response.StatusCode == HttpStatusCode.Created ? "acknowledged" : $"status {(int)response.StatusCode}"));
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    ledger.Add((name, replica, "connection failed"));
                    await Task.Delay(20);
                }
            }
        })).ToList();

        // Load first (both replicas acknowledging), then SIGKILL one mid-write, then load on the survivor.
        await WaitUntilAsync(() => ledger.Count(entry => entry.Outcome == "acknowledged" && entry.Replica == 0) >= 15 && ledger.Count(entry => entry.Outcome == "acknowledged") >= 30, TimeSpan.FromSeconds(90));
        var beforeKill = ledger.Count(entry => entry.Outcome == "acknowledged");
        first.Kill();
        await WaitUntilAsync(() => ledger.Count(entry => entry.Outcome == "acknowledged") >= beforeKill + 30, TimeSpan.FromSeconds(90));
        await stop.CancelAsync();
        await Task.WhenAll(writers);

        await using var connection = new NpgsqlConnection(database);
        var stored = (await connection.QueryAsync<(string Name, Guid Id)>("SELECT name, id FROM fleet.instances WHERE name LIKE 'ledger-%'")).ToDictionary(row => row.Name, row => row.Id);
        var audited = (await connection.QueryAsync<string>("SELECT resource_id FROM identity.audit_log WHERE action = 'instance.register'")).ToHashSet();
        var acknowledged = ledger.Where(entry => entry.Outcome == "acknowledged").Select(entry => entry.Name).ToList();
        var missing = acknowledged.Where(name => !stored.ContainsKey(name)).ToList();
        var halfWritten = stored.Where(row => !audited.Contains(row.Value.ToString())).Select(row => row.Key).ToList();
        var unacknowledgedButCommitted = stored.Keys.Except(acknowledged).Count();
        var outcomes = ledger.GroupBy(entry => entry.Outcome).Select(group => $"{group.Key} {group.Count()}");

        output.WriteLine($"writes attempted {ledger.Count} ({string.Join(", ", outcomes)}); acknowledged before the kill {beforeKill}, after {acknowledged.Count - beforeKill}; " +
            $"acknowledged {acknowledged.Count} vs found {acknowledged.Count - missing.Count}; rows found {stored.Count} ({unacknowledgedButCommitted} committed but never acknowledged: in flight on the killed replica); " +
            $"half-written (instance without its audit row) {halfWritten.Count}; surviving replica ready: {(await clients[1].GetAsync("/api/v1/ready")).StatusCode}");
        beforeKill.ShouldBeGreaterThanOrEqualTo(30, "both replicas were under write load before the kill");
        acknowledged.Count.ShouldBeGreaterThanOrEqualTo(beforeKill + 30, "the surviving replica kept acknowledging writes");
        missing.ShouldBeEmpty();
        halfWritten.ShouldBeEmpty();
        foreach (var client in clients)
        {
            client.Dispose();
        }
    }

    [Fact]
    public async Task PostgreSQL_stopped_under_load_gives_503_and_the_service_recovers_by_itself()
    {
        using var cluster = LocalPostgresCluster.Ephemeral();
        cluster.EnsureRunning(NullLogger.Instance);
        cluster.EnsureDatabase("capstan");
        var database = cluster.ConnectionString("capstan");
        await using (var source = NpgsqlDataSource.Create(database))
        {
            await new Migrator(source, NullLogger<Migrator>.Instance).MigrateAsync(CancellationToken.None);
        }

        await using var replica = ApiReplica.Start(0, database, Settings);
        await replica.WaitReadyAsync(TimeSpan.FromSeconds(120));
        var (_, key) = await ReplicaAccounts.CreateAsync(database, BaseRole.Admin);
        using var client = ReplicaAccounts.Client(replica.BaseUrl, key);
        client.Timeout = TimeSpan.FromSeconds(30);

        var answers = new ConcurrentBag<(string Phase, int Status, double Ms, string Body)>();
        var phase = "before";
        using var stop = new CancellationTokenSource();
        var load = Enumerable.Range(0, 4).Select(worker => Task.Run(async () =>
        {
            var n = 0;
            while (!stop.IsCancellationRequested)
            {
                var clock = Stopwatch.StartNew();
                var current = phase;
                try
                {
                    using var response = worker % 2 == 0
                        ? await client.GetAsync("/api/v1/instances")
                        : await client.PostAsJsonAsync("/api/v1/instances", new { name = $"outage-{worker}-{n++}", provider = "docker" });
                    answers.Add((current, (int)response.StatusCode, clock.Elapsed.TotalMilliseconds, await response.Content.ReadAsStringAsync()));
                }
                catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException)
                {
                    answers.Add((current, 0, clock.Elapsed.TotalMilliseconds, exception.GetType().Name));
                }

                await Task.Delay(50);
            }
        })).ToList();

        await Task.Delay(TimeSpan.FromSeconds(1));
        var outage = Stopwatch.StartNew();
        phase = "down";
        cluster.Stop();
        var stoppedIn = outage.Elapsed;
        var readyWent503 = await WaitForReadyAsync(replica, HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(30));
        var readyBody = await replica.Client.GetStringAsync("/api/v1/health");
        await Task.Delay(TimeSpan.FromSeconds(3));
        phase = "restarting";
        var restart = Stopwatch.StartNew();
        cluster.EnsureRunning(NullLogger.Instance);
        var readyAgain = await WaitForReadyAsync(replica, HttpStatusCode.OK, TimeSpan.FromSeconds(60));
        phase = "after";
        await Task.Delay(TimeSpan.FromSeconds(2));
        await stop.CancelAsync();
        await Task.WhenAll(load);

        var down = answers.Where(answer => answer.Phase == "down").ToList();
        var after = answers.Where(answer => answer.Phase == "after").ToList();
        var summary = string.Join("; ", answers.GroupBy(answer => answer.Phase).Select(group =>
            $"{group.Key}: {string.Join(", ", group.GroupBy(answer => answer.Status).OrderBy(g => g.Key).Select(g => $"{g.Key}×{g.Count()}"))}, slowest {group.Max(answer => answer.Ms):F0} ms"));
        output.WriteLine($"PostgreSQL stopped (pg_ctl took {stoppedIn.TotalSeconds:F1} s); readiness 503 after {readyWent503.TotalSeconds:F1} s; liveness stayed 200 ({readyBody.Length} bytes); " +
            $"restarted: ready again after {readyAgain.TotalSeconds:F1} s; answers by phase — {summary}");
        answers.ShouldNotContain(answer => answer.Status >= 500 && answer.Status != 503, "no 500 during the outage");
        answers.ShouldNotContain(answer => answer.Status == 0, "every request got an answer");
        down.Count.ShouldBeGreaterThan(0);
        down.Where(answer => answer.Status != 200 && answer.Status != 201).ShouldAllBe(answer => answer.Status == 503);
        down.Where(answer => answer.Status == 503).ShouldAllBe(answer => answer.Body.Contains("\"statusCode\":503", StringComparison.Ordinal));
        readyWent503.ShouldBeLessThan(TimeSpan.FromSeconds(15));
        after.ShouldNotBeEmpty();
        after.ShouldAllBe(answer => answer.Status == 200 || answer.Status == 201);
        answers.Max(answer => answer.Ms).ShouldBeLessThan(20_000);
    }

    [Fact]
    public async Task SIGTERM_finishes_in_flight_requests_and_ends_sse_streams_with_a_final_event()
    {
        var database = PostgresServer.CreateDatabase("faults_term");
        var replica = ApiReplica.Start(0, database, Settings);
        await using var _ = replica;
        await replica.WaitReadyAsync(TimeSpan.FromSeconds(120));
        var (_, key) = await ReplicaAccounts.CreateAsync(database, BaseRole.Developer);
        using var client = ReplicaAccounts.Client(replica.BaseUrl, key);
        var instance = await (await client.PostAsJsonAsync("/api/v1/instances", new { name = "graceful", provider = "docker" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var id = instance.GetProperty("id").GetString()!;

        // A live stream, and a command in flight that takes seconds (its agent never answers, so it times out).
        using var streamClient = ReplicaAccounts.Client(replica.BaseUrl, key);
        using var stream = await streamClient.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/v1/instances/{id}/logs/stream"), HttpCompletionOption.ResponseHeadersRead);
        stream.StatusCode.ShouldBe(HttpStatusCode.OK);
        var reader = new StreamReader(await stream.Content.ReadAsStreamAsync());
        using var socket = new ClientWebSocket();
        socket.Options.SetRequestHeader("Authorization", $"Bearer {key}");
        socket.Options.SetRequestHeader("X-Instance-ID", id);
        await socket.ConnectAsync(new Uri($"ws://127.0.0.1:{replica.Port}/ws/agent"), CancellationToken.None);
        var inFlight = client.PostAsJsonAsync("/api/v1/commands", new { instanceId = id, command = "sleep", args = new[] { "60" }, timeoutMs = 3000 });
        await Task.Delay(800);

        var clock = Stopwatch.StartNew();
        replica.Terminate();
        var lines = new List<string>();
        using (var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(20)))
        {
            while (await reader.ReadLineAsync(deadline.Token) is { } line)
            {
                lines.Add(line);
            }
        }

        var streamEnded = clock.Elapsed;
        var command = await inFlight;
        var commandBody = await command.Content.ReadAsStringAsync();
        var commandAnswered = clock.Elapsed;
        if (socket.State == WebSocketState.Open)
        {
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
        }

        await replica.WaitForExitAsync(TimeSpan.FromSeconds(45));
        var refusedAfter = false;
        try
        {
            await client.GetAsync("/api/v1/health");
        }
        catch (HttpRequestException)
        {
            refusedAfter = true;
        }

        output.WriteLine($"SIGTERM: SSE stream got its final event and ended after {streamEnded.TotalMilliseconds:F0} ms; the in-flight command answered {(int)command.StatusCode} after {commandAnswered.TotalMilliseconds:F0} ms " +
            $"({(commandBody.Length > 0 && commandBody[0] == '{' ? JsonDocument.Parse(commandBody).RootElement.GetProperty(command.IsSuccessStatusCode ? "status" : "message").ToString() : commandBody)}); " +
            $"process exited with {replica.ExitCode} after {clock.Elapsed.TotalMilliseconds:F0} ms; new connections refused: {refusedAfter}");
        string.Join('\n', lines).ShouldContain(StreamShutdownMiddleware.FinalEvent.TrimEnd('\n'));
        ((int)command.StatusCode).ShouldBeLessThan(500, commandBody);
        replica.ExitCode.ShouldBe(0);
        refusedAfter.ShouldBeTrue();
    }

    private static async Task WaitUntilAsync(Func<bool> condition, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (!condition() && clock.Elapsed < timeout)
        {
            await Task.Delay(50);
        }
    }

    private static async Task<TimeSpan> WaitForReadyAsync(ApiReplica replica, HttpStatusCode wanted, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            try
            {
                using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                if ((await replica.Client.GetAsync("/api/v1/ready", cancel.Token)).StatusCode == wanted)
                {
                    return clock.Elapsed;
                }
            }
            catch (Exception exception) when (exception is HttpRequestException or OperationCanceledException)
            {
            }

            await Task.Delay(100);
        }

        throw new TimeoutException($"readiness did not turn {(int)wanted} within {timeout.TotalSeconds} s:\n{replica.Output}");
    }
}
