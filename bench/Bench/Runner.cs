using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Security;
using Npgsql;

namespace Capstan.Bench;

/// <summary>Seeds the database, runs every scenario and its ceiling in one go, prints the table.</summary>
public static partial class Runner
{
    private static readonly string[] SearchWords =
    [
        "scheduler", "gateway", "worker", "database", "cache", "auth", "billing", "storage", "network", "kernel",
        "ingress", "queue", "mailer", "builder", "registry", "metrics", "backup", "cron", "proxy", "resolver",
        "request", "job", "session", "connection", "snapshot", "deployment", "container", "volume", "certificate", "token",
        "upload", "download", "transaction", "checkpoint", "lease", "partition", "replica", "index", "webhook", "probe",
    ];

    private static readonly string[] Providers = ["fly", "docker", "devpod", "e2b", "kubernetes", "aws", "gcp", "azure"];

    private const string AdminKey = "capk_benchadminkey0000000000000001";
    private const string AdminPassword = "Bench-Password-2026!";

    public static async Task<int> RunAsync(Options options)
    {
        var settings = new Settings(options);
        var rows = new List<Row>();
        var notes = new List<string>();
        Log($"scale {settings.Scale}: {settings.Instances} instances, {settings.Logs} log lines, {settings.Audit} audit rows, {settings.Requests} access requests, " +
            $"{settings.Jobs} jobs; {settings.Duration.TotalSeconds:0} s per scenario after {settings.Warmup.TotalSeconds:0} s warm-up");

        var idleRssMb = ProcessWatch.RssKb(settings.ApiPid) / 1024.0;
        notes.Add($"API idle RSS after start (before any load): {idleRssMb:0} MB; start to ready (migrations applied on an empty database): {settings.ReadyMs} ms, " +
            $"with the hypervisor taking {settings.ReadySteal}% of the machine meanwhile");

        var seedWatch = Stopwatch.StartNew();
        await SeedAsync(settings);
        var seedSeconds = seedWatch.Elapsed.TotalSeconds;
        var settled = await SettleAsync(settings);
        Log($"seeded in {seedSeconds:0.0} s, vacuumed in {settled.TotalSeconds:0.0} s");
        notes.Add($"seed: {seedSeconds:0} s (SQL generate_series, GIN indexes built after the bulk load), then VACUUM (ANALYZE) {settled.TotalSeconds:0} s; again after ingest");

        using var http = NewClient(256);
        http.BaseAddress = new Uri(settings.Api);
        var jwt = await LoginAsync(http);
        await RegisterClusterAsync(http, settings);
        var (recorded, took) = await WaitForFluxWatchAsync(settings);
        Log($"the Flux watcher recorded {recorded} objects of the cluster in {took.TotalSeconds:0.0} s");

        // Framework ceiling.
        using var bareClient = NewClient(256);
        var bare = await Closed(settings, "bare Kestrel GET (ceiling)", "req/s", settings.Concurrency, async (_, ct) =>
            await OkAsync(bareClient, HttpMethod.Get, $"{settings.Bare}/bare/{InstanceId(Random.Shared.Next(1, settings.Instances + 1))}", null, null, ct),
            settings.BarePid);
        rows.Add(bare);

        if (settings.Runs("get"))
        {
            // Authenticated GET by id.
            var getJwt = await Closed(settings, "GET /instances/{id} (session JWT)", "req/s", settings.Concurrency, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get, $"/api/v1/instances/{InstanceId(Random.Shared.Next(1, settings.Instances + 1))}", Bearer(jwt), null, ct));
            var getKey = await Closed(settings, "GET /instances/{id} (API key)", "req/s", settings.Concurrency, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get, $"/api/v1/instances/{InstanceId(Random.Shared.Next(1, settings.Instances + 1))}", ApiKey(AdminKey), null, ct));
            var pgGet = await PgBenchAsync(settings, "get-instance.sql", settings.Concurrency);
            rows.Add(PgRow("pgbench: instance by id (ceiling)", pgGet));
            rows.Add(getJwt with { Ceiling = "kestrel / pgbench", Ratio = $"{Pct(getJwt.Throughput, bare.Throughput)} / {Pct(getJwt.Throughput, pgGet.Tps)}" });
            rows.Add(getKey with { Ceiling = "kestrel / pgbench", Ratio = $"{Pct(getKey.Throughput, bare.Throughput)} / {Pct(getKey.Throughput, pgGet.Tps)}" });
            var half = Math.Max(1, getJwt.Throughput / 2);
            rows.Add(await Paced(settings, http, "GET /instances/{id} (JWT) paced at 50% of peak", half, 64, 10, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get, $"/api/v1/instances/{InstanceId(Random.Shared.Next(1, settings.Instances + 1))}", Bearer(jwt), null, ct)));
            // The same at a quarter of peak: tells a tail that grows with the load on the shared cores from a slow path.
            rows.Add(await Paced(settings, http, "GET /instances/{id} (JWT) paced at 25% of peak", half / 2, 64, 10, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get, $"/api/v1/instances/{InstanceId(Random.Shared.Next(1, settings.Instances + 1))}", Bearer(jwt), null, ct)));
        }

        if (settings.Runs("list"))
        {
            // Fleet instance list: filters + sort, page of 50.
            var list = await Closed(settings, "GET /instances?status&provider&sort (50)", "req/s", settings.Concurrency, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get,
                    $"/api/v1/instances?status=RUNNING,STOPPED&provider={Providers[Random.Shared.Next(Providers.Length)]}&sort=name&order=asc&limit=50&page={Random.Shared.Next(1, 11)}",
                    ApiKey(AdminKey), null, ct));
            var pgList = await PgBenchAsync(settings, "list-instances.sql", settings.Concurrency);
            rows.Add(PgRow("pgbench: instance list (ceiling)", pgList));
            rows.Add(list with { Ceiling = "pgbench", Ratio = Pct(list.Throughput, pgList.Tps) });
        }

        if (settings.Runs("flux"))
        {
            // Flux list through the Kubernetes client against the fake API server, and the fake server alone.
            using var kubeClient = NewClient(256);
            var kubeDirect = await Closed(settings, "fake kube-apiserver list, direct (ceiling)", "req/s", settings.Concurrency, async (_, ct) =>
                await OkAsync(kubeClient, HttpMethod.Get, $"{settings.KubeUrl}/apis/kustomize.toolkit.fluxcd.io/v1/kustomizations", null, null, ct),
                settings.KubePid);
            rows.Add(kubeDirect);
            var flux = await Closed(settings, "GET /flux/kustomizations (50 of 1k)", "req/s", settings.Concurrency, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get, $"/api/v1/flux/kustomizations?cluster=bench&limit=50&page={Random.Shared.Next(1, 21)}", ApiKey(AdminKey), null, ct));
            rows.Add(flux with { Ceiling = "kube direct", Ratio = Pct(flux.Throughput, kubeDirect.Throughput) });
        }

        if (settings.Runs("ingest"))
        {
            // Log ingest (1000 per request) against COPY through psql.
            var copy = await CopyCeilingAsync(settings);
            rows.Add(new Row("psql \\copy of log lines (ceiling)", "rows/s", copy, double.NaN, double.NaN, 0, 0, double.NaN, double.NaN, double.NaN)
            {
                Note = $"{settings.IngestConcurrency} psql in parallel",
            });
            var bodies = Enumerable.Range(0, 16).Select(IngestBody).ToArray();
            var ingest = await Closed(settings, "POST /logs/ingest/batch (1000 lines)", "rows/s", settings.IngestConcurrency, async (worker, ct) =>
            {
                using var content = new ByteArrayContent(bodies[Random.Shared.Next(bodies.Length)]);
                content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
                return await OkAsync(http, HttpMethod.Post, "/api/v1/logs/ingest/batch", ApiKey(AdminKey), content, ct) * 1000;
            });
            rows.Add(ingest with { Ceiling = "COPY", Ratio = Pct(ingest.Throughput, copy) });
            await SettleAsync(settings);
        }

        if (settings.Runs("search"))
        {
            // Log full-text search over the seeded lines.
            var search = await Closed(settings, "GET /logs?search=<word> (50)", "req/s", settings.Concurrency, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get, $"/api/v1/logs?search={SearchWords[Random.Shared.Next(SearchWords.Length)]}&limit=50", ApiKey(AdminKey), null, ct));
            var pgSearch = await PgBenchAsync(settings, "search-logs.sql", settings.Concurrency);
            rows.Add(PgRow("pgbench: log search (ceiling)", pgSearch));
            rows.Add(search with { Ceiling = "pgbench", Ratio = Pct(search.Throughput, pgSearch.Tps), Note = "p99 target <= 50 ms" });
            rows.Add(await Paced(settings, http, "GET /logs?search paced at 50% of peak", Math.Max(1, search.Throughput / 2), 32, 50, async (_, ct) =>
                await OkAsync(http, HttpMethod.Get, $"/api/v1/logs?search={SearchWords[Random.Shared.Next(SearchWords.Length)]}&limit=50", ApiKey(AdminKey), null, ct)));
        }

        if (settings.Runs("audit"))
        {
            // Audit list with keyset paging: each worker walks 20 pages deep, then starts again.
            var cursors = new string?[settings.Concurrency];
            var depth = new int[settings.Concurrency];
            var audit = await Closed(settings, "GET /audit keyset walk (50/page)", "req/s", settings.Concurrency, async (worker, ct) =>
            {
                var url = cursors[worker] is { } cursor && depth[worker] < 20 ? $"/api/v1/audit?limit=50&cursor={Uri.EscapeDataString(cursor)}" : "/api/v1/audit?limit=50";
                depth[worker] = cursors[worker] is null || depth[worker] >= 20 ? 0 : depth[worker] + 1;
                using var request = new HttpRequestMessage(HttpMethod.Get, url);
                ApiKey(AdminKey)(request);
                using var response = await http.SendAsync(request, ct);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    cursors[worker] = null;
                    return 0;
                }

                using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
                cursors[worker] = document.RootElement.TryGetProperty("nextCursor", out var next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null;
                return 1;
            });
            var pgAudit = await PgBenchAsync(settings, "audit-page.sql", settings.Concurrency);
            rows.Add(PgRow("pgbench: audit keyset page (ceiling)", pgAudit));
            rows.Add(audit with { Ceiling = "pgbench", Ratio = Pct(audit.Throughput, pgAudit.Tps) });
        }

        if (settings.Runs("sse"))
        {
            // SSE fan-out.
            rows.Add(await SseFanOutAsync(settings));
        }

        if (settings.Runs("claim"))
        {
            // Agent job claim: 8 agents, no job twice.
            rows.AddRange(await ClaimAsync(settings, http));
        }

        if (settings.Runs("approve"))
        {
            // Access request approve, contended: 8 approvers vote on the same requests in the same order.
            rows.Add(await ApproveAsync(settings, http));
        }

        await Task.Delay(TimeSpan.FromSeconds(3));
        notes.Add($"API RSS after the run (idle again): {ProcessWatch.RssKb(settings.ApiPid) / 1024.0:0} MB");

        var table = Render(rows, notes, settings);
        Console.WriteLine();
        Console.WriteLine(table);
        if (options.Get("out", "") is { Length: > 0 } outFile)
        {
            await File.WriteAllTextAsync(outFile, table);
        }

        return 0;
    }

    private static async Task<Row> Closed(Settings settings, string name, string unit, int concurrency, Load.Operation operation, int? serverPid = null)
    {
        var warmup = settings.Warmup;
        if (serverPid is null && !settings.ApiWarmed)
        {
            warmup = warmup > settings.FirstApiWarmup ? warmup : settings.FirstApiWarmup;
            settings.ApiWarmed = true;
        }

        Log($"{name}: {concurrency} connections, {warmup.TotalSeconds:0} s warm-up");
        var outcome = await Load.ClosedAsync(serverPid ?? settings.ApiPid, concurrency, warmup, settings.Duration, operation);
        return ToRow(name, unit, outcome) with { Server = serverPid is null ? "API" : "own" };
    }

    /// <summary>An open-loop run at <paramref name="rate"/>. Its note says where the slow requests were: the API's garbage
    /// collections during the recorded window (from its /metrics), the host's steal, and the 250 ms windows whose slowest
    /// request missed the target with the steal in each, so a p99 miss reads as a steady slow path, a few stalls,
    /// collections, or the hypervisor.</summary>
    private static async Task<Row> Paced(Settings settings, HttpClient http, string name, double rate, int maxInFlight, double targetMs, Load.Operation operation)
    {
        Log($"{name}: {rate:0}/s, up to {maxInFlight} in flight, {settings.Warmup.TotalSeconds:0} s warm-up");
        GcTotals? before = null;
        HostSteal? steal = null;
        var outcome = await Load.PacedAsync(settings.ApiPid, rate, settings.Warmup, settings.Duration, maxInFlight, operation, async () =>
        {
            before = await GcTotals.ReadAsync(http);
            steal = new HostSteal();
        });
        await steal!.DisposeAsync();
        var collections = (await GcTotals.ReadAsync(http)) - before!;
        string StealIn(Load.Window window) =>
            (int)(window.StartSeconds * 1000 / Load.WindowMs) is var index && index < steal.PerWindow.Count ? $"{steal.PerWindow[index]:P0}" : "-";
        var slow = outcome.Windows.Where(window => window.MaxMs > targetMs).ToList();
        Log($"{name}: p99 {outcome.P99Ms:0.0} ms; per {Load.WindowMs} ms, slowest request (host steal): " +
            string.Join(' ', outcome.Windows.Select(window => $"{window.MaxMs.ToString("0", CultureInfo.InvariantCulture)} ({StealIn(window)})")));
        var worst = slow.OrderByDescending(window => window.MaxMs).Take(5)
            .Select(window => $"{window.StartSeconds:0.00} s: {window.MaxMs:0} ms (steal {StealIn(window)})");
        var note = $"p99 target <= {targetMs:0} ms; API GC in the recorded window: {collections.Describe(outcome.Samples)}; " +
            $"host steal {steal.Overall:P0} of the machine's CPU (/proc/stat); " +
            $"{slow.Count} of {outcome.Windows.Count} windows of {Load.WindowMs} ms had a request over the target" +
            (slow.Count > 0 ? $", the slowest at {string.Join(", ", worst)}" : string.Empty);
        return ToRow(name, "req/s", outcome) with { Note = note };
    }

    private static Row ToRow(string name, string unit, Load.Outcome outcome) =>
        new(name, unit, outcome.UnitsPerSecond, outcome.P50Ms, outcome.P99Ms, outcome.Errors, outcome.Samples, outcome.Watch.PeakRssMb, outcome.Watch.LoadCpu, outcome.Watch.ApiCpu)
        {
            HostSteal = outcome.Watch.HostSteal,
        };

    // ---------- scenarios with their own shape ----------

    private static async Task<Row> SseFanOutAsync(Settings settings)
    {
        var subscribers = settings.Subscribers;
        Log($"SSE fan-out: {subscribers} subscribers");
        using var client = NewClient(subscribers + 16);
        client.BaseAddress = new Uri(settings.Api);
        client.Timeout = Timeout.InfiniteTimeSpan;
        var instance = InstanceId(1);
        var latencies = new ConcurrentBag<double>();
        var connected = 0;
        var failed = 0;
        using var stop = new CancellationTokenSource();
        var readers = Enumerable.Range(0, subscribers).Select(_ => Task.Run(async () =>
        {
            try
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/instances/{instance}/logs/stream");
                ApiKey(AdminKey)(request);
                using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, stop.Token);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    Interlocked.Increment(ref failed);
                    return;
                }

                using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(stop.Token));
                var first = true;
                while (await reader.ReadLineAsync(stop.Token) is { } line)
                {
                    if (!line.StartsWith("data:", StringComparison.Ordinal))
                    {
                        continue;
                    }

                    if (first)
                    {
                        first = false;
                        Interlocked.Increment(ref connected);
                        continue;
                    }

                    var marker = line.IndexOf("sse-probe ", StringComparison.Ordinal);
                    if (marker >= 0)
                    {
                        var end = line.IndexOf('"', marker);
                        var parts = line[(marker + 10)..end].Split(' ');
                        latencies.Add(Stopwatch.GetElapsedTime(long.Parse(parts[1], CultureInfo.InvariantCulture)).TotalMilliseconds);
                    }
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or IOException or HttpRequestException)
            {
            }
        })).ToList();

        var deadline = Stopwatch.StartNew();
        while (Volatile.Read(ref connected) + Volatile.Read(ref failed) < subscribers && deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            await Task.Delay(100);
        }

        var open = Volatile.Read(ref connected);
        Log($"SSE fan-out: {open} subscribers connected in {deadline.Elapsed.TotalSeconds:0.0} s ({failed} refused)");
        using var publisher = NewClient(4);
        publisher.BaseAddress = new Uri(settings.Api);
        var events = settings.SseEvents;
        var watch = new ProcessWatch(settings.ApiPid);
        var started = Stopwatch.GetTimestamp();
        await using (watch)
        {
            for (var seq = 0; seq < events; seq++)
            {
                var body = JsonSerializer.Serialize(new { instanceId = instance, level = "INFO", source = "APP", message = $"sse-probe {seq} {Stopwatch.GetTimestamp()}" });
                using var content = new StringContent(body, Encoding.UTF8, "application/json");
                await OkAsync(publisher, HttpMethod.Post, "/api/v1/logs/ingest", ApiKey(AdminKey), content, CancellationToken.None);
                await Task.Delay(TimeSpan.FromMilliseconds(1000.0 / settings.SseRate));
            }

            var expected = (long)events * open;
            var wait = Stopwatch.StartNew();
            while (latencies.Count < expected && wait.Elapsed < TimeSpan.FromSeconds(10))
            {
                await Task.Delay(50);
            }
        }

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await stop.CancelAsync();
        await Task.WhenAll(readers);
        var all = latencies.ToArray();
        var missing = ((long)events * open) - all.Length + ((long)events * (subscribers - open));
        return new Row($"SSE fan-out: {subscribers} subscribers, {events} events", "deliv/s", all.Length / elapsed, Load.Percentile(all, 0.5), Load.Percentile(all, 0.99),
            missing, all.Length, watch.PeakRssMb, watch.LoadCpu, watch.ApiCpu)
        { Note = "latency = raise (POST) to receipt; p99 target <= 100 ms; errors = deliveries missing" };
    }

    private static async Task<List<Row>> ClaimAsync(Settings settings, HttpClient http)
    {
        var claimed = new ConcurrentBag<Guid>();
        var empty = 0L;
        var claim = await Closed(settings, "POST /agents/{id}/jobs/claim (8 agents)", "claims/s", 8, async (worker, ct) =>
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/agents/{Id(7, worker + 1)}/jobs/claim");
            request.Headers.Add("X-Agent-Secret", $"bench-agent-secret-{worker + 1}");
            using var response = await http.SendAsync(request, ct);
            if (response.StatusCode == HttpStatusCode.NoContent)
            {
                Interlocked.Increment(ref empty);
                return 0;
            }

            if (response.StatusCode != HttpStatusCode.OK)
            {
                return 0;
            }

            using var document = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
            claimed.Add(document.RootElement.GetProperty("id").GetGuid());
            return 1;
        });
        var ids = claimed.ToArray();
        var twice = ids.Length - ids.Distinct().Count();
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync();
        await using var check = new NpgsqlCommand("SELECT count(*) FROM access.jobs WHERE attempts > 1", connection);
        var reclaimed = (long)(await check.ExecuteScalarAsync())!;
        var pgClaim = await PgBenchAsync(settings, "claim-job.sql", 8);
        return
        [
            PgRow("pgbench: claim + audit row (ceiling)", pgClaim),
            claim with
            {
                Ceiling = "pgbench",
                Ratio = Pct(claim.Throughput, pgClaim.Tps),
                Note = $"{ids.Length} claims (incl. warm-up), claimed twice: {twice} (responses) / {reclaimed} (jobs with attempts > 1); empty polls: {empty}; target >= 2000/s",
            },
        ];
    }

    private static async Task<Row> ApproveAsync(Settings settings, HttpClient http)
    {
        var next = new int[8];
        var conflicts = 0L;
        var approve = await Closed(settings, "POST /requests/{id}/approve (8 approvers, same requests)", "votes/s", 8, async (worker, ct) =>
        {
            var n = ++next[worker];
            if (n > settings.Requests)
            {
                return 0;
            }

            using var content = new StringContent("{}", Encoding.UTF8, "application/json");
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/requests/{Id(6, n)}/approve") { Content = content };
            ApiKey($"capk_benchapproverkey{worker + 1}")(request);
            using var response = await http.SendAsync(request, ct);
            if (response.StatusCode == HttpStatusCode.Conflict)
            {
                Interlocked.Increment(ref conflicts);
            }

            return response.StatusCode == HttpStatusCode.OK ? 1 : 0;
        });
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync();
        await using var check = new NpgsqlCommand(
            "SELECT count(*) FILTER (WHERE status = 'approved'), (SELECT count(*) FROM access.jobs WHERE request_id IS NOT NULL) FROM access.requests", connection);
        await using var reader = await check.ExecuteReaderAsync();
        await reader.ReadAsync();
        return approve with { Note = $"requests approved: {reader.GetInt64(0)}, jobs queued for them: {reader.GetInt64(1)}; 409s: {conflicts}" };
    }

    // ---------- ceilings ----------

    private sealed record PgResult(double Tps, double LatencyMs, string Script, int Clients, double HostSteal);

    private static Row PgRow(string name, PgResult result) =>
        new(name, "tx/s", result.Tps, result.LatencyMs, double.NaN, 0, 0, double.NaN, double.NaN, double.NaN)
        {
            HostSteal = result.HostSteal,
            Note = $"pgbench -M prepared -c {result.Clients} -f {result.Script}; p50 column = mean latency",
        };

    private static async Task<PgResult> PgBenchAsync(Settings settings, string script, int clients)
    {
        Log($"pgbench {script}: {clients} clients");
        var source = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "pgbench", script));
        var path = Path.Combine(settings.WorkDir, script);
        await File.WriteAllTextAsync(path, source.Replace("{{INSTANCES}}", settings.Instances.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal));
        var builder = new NpgsqlConnectionStringBuilder(settings.ConnectionString);
        string Args(int seconds) =>
            $"-h {builder.Host} -p {builder.Port} -U {builder.Username} -n -M prepared -c {clients} -j 2 -T {seconds} -f {path} {builder.Database}";
        await RunToolAsync(settings.PgBin + "/pgbench", Args((int)Math.Max(1, settings.Warmup.TotalSeconds)));
        var hostBefore = HostSteal.Snapshot();
        var output = await RunToolAsync(settings.PgBin + "/pgbench", Args((int)settings.Duration.TotalSeconds));
        var steal = HostSteal.Fraction(hostBefore, HostSteal.Snapshot());
        var tps = TpsPattern().Match(output);
        var latency = LatencyPattern().Match(output);
        if (!tps.Success)
        {
            throw new InvalidOperationException($"pgbench {script} printed no tps:\n{output}");
        }

        return new PgResult(
            double.Parse(tps.Groups[1].Value, CultureInfo.InvariantCulture),
            latency.Success ? double.Parse(latency.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN,
            script,
            clients,
            steal);
    }

    private static async Task<double> CopyCeilingAsync(Settings settings)
    {
        var parallel = settings.IngestConcurrency;
        var rowsEach = settings.CopyRows / parallel;
        Log($"COPY ceiling: {parallel} x {rowsEach} rows through psql");
        var files = new List<string>();
        for (var p = 0; p < parallel; p++)
        {
            var path = Path.Combine(settings.WorkDir, $"copy-{p}.csv");
            await using (var writer = new StreamWriter(path))
            {
                var now = DateTime.UtcNow;
                for (var n = 0; n < rowsEach; n++)
                {
                    var line = Line(p * rowsEach + n);
                    await writer.WriteLineAsync(
                        $"{Guid.CreateVersion7()},{InstanceId(line.Instance)},{line.Level},{line.Source},\"{line.Message}\",{now.AddMilliseconds(-n):O}");
                }
            }

            files.Add(path);
        }

        var builder = new NpgsqlConnectionStringBuilder(settings.ConnectionString);
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(files.Select(file => RunToolAsync(
            settings.PgBin + "/psql",
            $"-h {builder.Host} -p {builder.Port} -U {builder.Username} -v ON_ERROR_STOP=1 -qc \"\\copy fleet.logs (id, instance_id, level, source, message, logged_at) FROM '{file}' WITH (FORMAT csv)\" {builder.Database}")));
        return parallel * rowsEach / watch.Elapsed.TotalSeconds;
    }

    // ---------- seeding ----------

    /// <summary>Vacuums what the seed or a write scenario just wrote, so that PostgreSQL's insert-triggered autovacuum of
    /// those rows (hint bits, visibility map, on hundreds of thousands of rows) does not run on the shared cores inside a
    /// later scenario's measured window.</summary>
    private static async Task<TimeSpan> SettleAsync(Settings settings)
    {
        var watch = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(settings.ConnectionString + ";Command Timeout=0");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("VACUUM (ANALYZE)", connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
        return watch.Elapsed;
    }

    private static async Task SeedAsync(Settings settings)
    {
        var sql = (await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "seed.sql")))
            .Replace("{{INSTANCES}}", settings.Instances.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{LOGS}}", settings.Logs.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{AUDIT}}", settings.Audit.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{REQUESTS}}", settings.Requests.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{JOBS}}", settings.Jobs.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
            .Replace("{{PWHASH}}", Passwords.Hash(AdminPassword), StringComparison.Ordinal);
        await using var connection = new NpgsqlConnection(settings.ConnectionString + ";Command Timeout=0");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = 0 };
        await command.ExecuteNonQueryAsync();
    }

    private static async Task<string> LoginAsync(HttpClient http)
    {
        using var response = await http.PostAsJsonAsync("/api/v1/auth/login", new { username = "bench-admin", password = AdminPassword });
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"login failed: {(int)response.StatusCode} {body}");
        }

        return JsonDocument.Parse(body).RootElement.GetProperty("token").GetString()!;
    }

    /// <summary>Waits for the Flux watcher's first pass over the registered cluster: it starts within 30 s of the
    /// registration and records every object (1,000 transactions), which would otherwise land inside a measured
    /// scenario. Gives up after two minutes (the scenarios then run anyway).</summary>
    private static async Task<(long Recorded, TimeSpan Took)> WaitForFluxWatchAsync(Settings settings)
    {
        var waited = Stopwatch.StartNew();
        await using var connection = new NpgsqlConnection(settings.ConnectionString);
        await connection.OpenAsync();
        await using var count = new NpgsqlCommand("SELECT count(*) FROM gitops.resource_states", connection);
        long recorded = 0;
        while (waited.Elapsed < TimeSpan.FromMinutes(2))
        {
            recorded = (long)(await count.ExecuteScalarAsync())!;
            if (recorded >= settings.FluxObjects)
            {
                break;
            }

            await Task.Delay(250);
        }

        return (recorded, waited.Elapsed);
    }

    private static async Task RegisterClusterAsync(HttpClient http, Settings settings)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/v1/clusters")
        {
            Content = JsonContent.Create(new { name = "bench", kubeconfig = await File.ReadAllTextAsync(settings.KubeConfigPath) }),
        };
        ApiKey(AdminKey)(request);
        using var response = await http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"cluster registration failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
    }

    private static byte[] IngestBody(int variant)
    {
        var entries = Enumerable.Range(0, 1000).Select(n =>
        {
            var line = Line((variant * 1000) + n + 7);
            return new { instanceId = InstanceId(line.Instance), level = line.Level, source = line.Source, message = line.Message };
        });
        return JsonSerializer.SerializeToUtf8Bytes(new { entries });
    }

    private readonly record struct LogLine(int Instance, string Level, string Source, string Message);

    private static LogLine Line(long n) => new(
        (int)(1 + (n * 7919 % _currentInstances)),
        new[] { "INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR" }[n % 6],
        new[] { "APP", "AGENT", "SYSTEM", "EXTENSION", "BUILD" }[n % 5],
        $"{SearchWords[n % 20]} handled {SearchWords[20 + (n / 20 % 20)]} id={n} took {n % 997}ms on host-{n % 173}");

    private static int _currentInstances = 10_000;

    // ---------- helpers ----------

    public static Guid Id(int kind, long n) => Guid.Parse($"{kind:x8}-0000-7000-8000-{n:x12}");

    private static Guid InstanceId(long n) => Id(3, n);

    private static Action<HttpRequestMessage> Bearer(string token) => request => request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);

    private static Action<HttpRequestMessage> ApiKey(string key) => request => request.Headers.Add("X-Api-Key", key);

    private static async Task<int> OkAsync(HttpClient client, HttpMethod method, string url, Action<HttpRequestMessage>? auth, HttpContent? content, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, url) { Content = content };
        auth?.Invoke(request);
        using var response = await client.SendAsync(request, ct);
        // Read the whole body (decompressing it when compressed), as a client would.
        await response.Content.CopyToAsync(Stream.Null, ct);
        return response.IsSuccessStatusCode ? 1 : 0;
    }

    private static HttpClient NewClient(int connections) => new(new SocketsHttpHandler
    {
        MaxConnectionsPerServer = connections,
        AutomaticDecompression = DecompressionMethods.All,
        PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5),
        UseCookies = false,
    })
    { Timeout = TimeSpan.FromSeconds(30) };

    private static async Task<string> RunToolAsync(string file, string arguments)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {arguments} exited {process.ExitCode}: {await stderr}");
        }

        return await stdout + await stderr;
    }

    private static string Pct(double value, double ceiling) => ceiling > 0 ? $"{100 * value / ceiling:0}%" : "-";

    private static void Log(string message) => Console.Error.WriteLine($"[bench {DateTime.UtcNow:HH:mm:ss}] {message}");

    private static string Render(List<Row> rows, List<string> notes, Settings settings)
    {
        static double PerOp(Row row) => row.Throughput > 0 && !double.IsNaN(row.ApiCpu) ? 1000 * row.ApiCpu / row.Throughput * (row.Unit == "rows/s" ? 1000 : 1) : double.NaN;
        static string F(double value, string format) => double.IsNaN(value) ? "-" : value.ToString(format, CultureInfo.InvariantCulture);
        var header = new[] { "scenario", "throughput", "p50 ms", "p99 ms", "errors", "server peak RSS MB", "server CPU", "server CPU ms/op", "loadgen CPU", "host steal", "ceiling", "ratio" };
        var cells = rows.Select(row => new[]
        {
            row.Scenario, $"{F(row.Throughput, "0")} {row.Unit}", F(row.P50Ms, "0.0"), F(row.P99Ms, "0.0"), row.Samples == 0 && row.Errors == 0 && double.IsNaN(row.P99Ms) ? "-" : row.Errors.ToString(CultureInfo.InvariantCulture),
            F(row.PeakRssMb, "0"), F(row.ApiCpu, "0.00"), F(PerOp(row), "0.00"), F(row.LoadCpu, "0.00"), F(100 * row.HostSteal, "0") + (double.IsNaN(row.HostSteal) ? "" : "%"),
            row.Ceiling, row.Ratio,
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, cells.Count == 0 ? 0 : cells.Max(c => c[i].Length))).ToArray();
        var text = new StringBuilder();
        text.AppendLine(FormattableString.Invariant($"Capstan benchmark, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, scale {settings.Scale}, {Environment.ProcessorCount} cores; ")
            + FormattableString.Invariant($"{settings.Warmup.TotalSeconds:0} s warm-up ({settings.FirstApiWarmup.TotalSeconds:0} s before the first API scenario) + {settings.Duration.TotalSeconds:0} s per scenario; CPU in cores (1.00 = one core busy); ")
            + "server = the API process, or the ceiling's own process (bare Kestrel, fake kube-apiserver); CPU ms/op per request (per 1000-line batch for ingest); "
            + "host steal = the share of the machine's CPU time the hypervisor gave elsewhere during the scenario (/proc/stat)");
        text.AppendLine();
        text.AppendLine("| " + string.Join(" | ", header.Select((h, i) => h.PadRight(widths[i]))) + " |");
        text.AppendLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var c in cells)
        {
            text.AppendLine("| " + string.Join(" | ", c.Select((v, i) => v.PadRight(widths[i]))) + " |");
        }

        text.AppendLine();
        foreach (var row in rows.Where(row => row.Note.Length > 0))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- {row.Scenario}: {row.Note}");
        }

        foreach (var note in notes)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"- {note}");
        }

        return text.ToString();
    }

    [GeneratedRegex(@"tps = ([0-9.]+)")]
    private static partial Regex TpsPattern();

    [GeneratedRegex(@"latency average = ([0-9.]+) ms")]
    private static partial Regex LatencyPattern();

    private sealed class Settings
    {
        public Settings(Options options)
        {
            Scale = options.Get("scale", "full");
            var full = Scale == "full";
            Instances = options.Int("instances", full ? 10_000 : 1_000);
            _currentInstances = Instances;
            Logs = options.Int("logs", full ? 1_000_000 : 50_000);
            Audit = options.Int("audit", full ? 100_000 : 5_000);
            Requests = options.Int("requests", full ? 10_000 : 1_000);
            Jobs = options.Int("jobs", full ? 200_000 : 20_000);
            CopyRows = options.Int("copy-rows", full ? 100_000 : 20_000);
            Subscribers = options.Int("subscribers", full ? 1000 : 100);
            SseEvents = options.Int("sse-events", full ? 50 : 10);
            SseRate = options.Double("sse-rate", 10);
            Warmup = TimeSpan.FromSeconds(options.Double("warmup", full ? 5 : 1));
            FirstApiWarmup = TimeSpan.FromSeconds(options.Double("first-warmup", full ? 20 : 2));
            Duration = TimeSpan.FromSeconds(options.Double("duration", full ? 15 : 3));
            Concurrency = options.Int("concurrency", 16);
            IngestConcurrency = options.Int("ingest-concurrency", 2);
            Api = options.Required("api").TrimEnd('/');
            Bare = options.Required("bare").TrimEnd('/');
            ApiPid = options.Int("api-pid", 0);
            BarePid = options.Int("bare-pid", 0);
            KubePid = options.Int("kube-pid", 0);
            ReadyMs = options.Int("ready-ms", -1);
            ReadySteal = options.Int("ready-steal", -1);
            ConnectionString = options.Required("pg");
            PgBin = options.Get("pg-bin", "/usr/lib/postgresql/15/bin");
            KubeConfigPath = options.Required("kubeconfig");
            KubeUrl = File.ReadAllText(KubeConfigPath + ".url").Trim();
            FluxObjects = options.Int("flux-objects", 1000);
            WorkDir = options.Get("work", Path.GetTempPath());
            Only = options.Get("only", "") is { Length: > 0 } only ? only.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet() : null;
        }

        /// <summary>Scenario groups chosen by <c>--only get,search,...</c> (all when absent): a quick re-measurement of one
        /// area, or a steady load to profile the API under.</summary>
        public IReadOnlySet<string>? Only { get; }

        public bool Runs(string group) => Only is null || Only.Contains(group);

        public string Scale { get; }

        /// <summary>The Flux objects the fake Kubernetes API server holds (Kustomizations; its fixtures come on top).</summary>
        public int FluxObjects { get; }

        public int Instances { get; }

        public int Logs { get; }

        public int Audit { get; }

        public int Requests { get; }

        public int Jobs { get; }

        public int CopyRows { get; }

        public int Subscribers { get; }

        public int SseEvents { get; }

        public double SseRate { get; }

        public TimeSpan Warmup { get; }

        /// <summary>The warm-up of the first scenario against the API: the runtime tiers the hot paths up (ReadyToRun code
        /// rejitted with profile data) over the first ~15 s of load on two shared cores, and whichever scenario came first
        /// measured about twice the CPU per request of the same request measured later.</summary>
        public TimeSpan FirstApiWarmup { get; }

        public bool ApiWarmed { get; set; }

        public TimeSpan Duration { get; }

        public int Concurrency { get; }

        public int IngestConcurrency { get; }

        public string Api { get; }

        public string Bare { get; }

        public int ApiPid { get; }

        public int BarePid { get; }

        public int KubePid { get; }

        public int ReadyMs { get; }

        /// <summary>Host steal while the API started, in percent of the machine's CPU time.</summary>
        public int ReadySteal { get; }

        public string ConnectionString { get; }

        public string PgBin { get; }

        public string KubeConfigPath { get; }

        public string KubeUrl { get; }

        public string WorkDir { get; }
    }
}
