using System.Globalization;
using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Metrics;

public sealed class MetricsTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static string Iso(DateTime at) => Uri.EscapeDataString(at.ToString("O", CultureInfo.InvariantCulture));

    private Task SampleAsync(Guid instance, DateTime at, double cpu, long memUsed = 500, long memTotal = 1000, long diskUsed = 10, long diskTotal = 100, double? load = null, long? sent = null) =>
        Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.metrics (instance_id, recorded_at, cpu_percent, mem_used, mem_total, disk_used, disk_total, load_avg_1, net_bytes_sent)
            VALUES (@Instance, @At, @Cpu, @MemUsed, @MemTotal, @DiskUsed, @DiskTotal, @Load, @Sent)
            """,
            new { Instance = instance, At = at, Cpu = cpu, MemUsed = memUsed, MemTotal = memTotal, DiskUsed = diskUsed, DiskTotal = diskTotal, Load = load, Sent = sent });

    [Fact]
    public async Task Timeseries_averages_per_minute_bucket_over_the_last_hour()
    {
        var id = await SeedInstanceAsync("graphs");
        var minute = DateTime.UtcNow.AddMinutes(-10);
        minute = new DateTime(minute.Year, minute.Month, minute.Day, minute.Hour, minute.Minute, 0, DateTimeKind.Utc);
        await SampleAsync(id, minute.AddSeconds(5), 10, load: 1);
        await SampleAsync(id, minute.AddSeconds(35), 30, load: 3, sent: 500);
        await SampleAsync(id, minute.AddMinutes(2), 50);
        await SampleAsync(id, DateTime.UtcNow.AddHours(-2), 99);
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/metrics/timeseries?range=1h&instanceId={id}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["range", "since", "granularity", "datapoints"]);
        body.GetProperty("granularity").GetString().ShouldBe("1m");
        var points = body.GetProperty("datapoints").EnumerateArray().ToList();
        points.Count.ShouldBe(2);
        points[0].PropertyNames().ShouldBe([
            "instanceId", "timestamp", "cpuPercent", "memUsedBytes", "memTotalBytes", "diskUsedBytes", "diskTotalBytes", "netBytesSent", "netBytesRecv", "loadAvg1", "sampleCount",
        ]);
        points[0].GetProperty("cpuPercent").GetDouble().ShouldBe(20);
        points[0].GetProperty("loadAvg1").GetDouble().ShouldBe(2);
        points[0].GetProperty("sampleCount").GetInt64().ShouldBe(2);
        points[0].GetProperty("netBytesSent").GetInt64().ShouldBe(500);
        points[0].GetProperty("timestamp").GetDateTime().ToUniversalTime().ShouldBe(minute);
        points[1].GetProperty("cpuPercent").GetDouble().ShouldBe(50);

        var day = await (await client.GetAsync($"/api/v1/metrics/timeseries?range=24h")).ShouldBeJsonAsync();
        day.GetProperty("granularity").GetString().ShouldBe("15m");
        day.GetProperty("datapoints").EnumerateArray().Sum(point => point.GetProperty("sampleCount").GetInt64()).ShouldBe(4);
    }

    [Fact]
    public async Task Instance_metrics_are_the_same_series_for_one_instance()
    {
        var id = await SeedInstanceAsync("solo");
        await SampleAsync(id, DateTime.UtcNow.AddMinutes(-3), 42);
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/instances/{id}/metrics?range=6h")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["instanceId", "range", "since", "granularity", "datapoints"]);
        body.GetProperty("granularity").GetString().ShouldBe("5m");
        body.GetProperty("datapoints")[0].GetProperty("cpuPercent").GetDouble().ShouldBe(42);
        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/metrics")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/instances/{id}/metrics?range=99y")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Range_returns_raw_or_bucketed_points_between_from_and_to()
    {
        var id = await SeedInstanceAsync("ranged");
        var start = new DateTime(DateTime.UtcNow.Year, DateTime.UtcNow.Month, DateTime.UtcNow.Day, 0, 0, 0, DateTimeKind.Utc);
        for (var minute = 0; minute < 6; minute++)
        {
            await SampleAsync(id, start.AddMinutes(minute), minute * 10);
        }

        var client = await As(BaseRole.Viewer);

        var raw = await (await client.GetAsync($"/api/v1/metrics/timeseries/range?from={Iso(start)}&to={Iso(start.AddMinutes(10))}&granularity=raw&limit=4")).ShouldBeJsonAsync();
        raw.PropertyNames().ShouldBe(["points", "meta"]);
        raw.GetProperty("points").GetArrayLength().ShouldBe(4);
        raw.GetProperty("meta").PropertyNames().ShouldBe(["instanceId", "from", "to", "granularity", "count"]);
        raw.GetProperty("meta").GetProperty("count").GetInt32().ShouldBe(4);

        var buckets = await (await client.GetAsync($"/api/v1/metrics/timeseries/range?from={Iso(start)}&to={Iso(start.AddMinutes(10))}&granularity=5m&instanceId={id}")).ShouldBeJsonAsync();
        buckets.GetProperty("points").EnumerateArray().Select(point => point.GetProperty("cpuPercent").GetDouble()).ShouldBe([20, 50]);
        buckets.GetProperty("points")[0].GetProperty("memUsed").GetInt64().ShouldBe(500);
    }

    [Theory]
    [InlineData("to=2024-01-01T00:00:00Z", "from")]
    [InlineData("from=2024-01-01T00:00:00Z", "to")]
    [InlineData("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "to")]
    [InlineData("from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z&granularity=2m", "granularity")]
    [InlineData("from=2024-01-01T00:00:00Z&to=2024-01-02T00:00:00Z&limit=2001", "limit")]
    public async Task Bad_range_queries_are_400(string query, string field)
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.GetAsync($"/api/v1/metrics/timeseries/range?{query}");

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Aggregate_summarises_each_instance_over_the_window()
    {
        var a = await SeedInstanceAsync("agg-a");
        var b = await SeedInstanceAsync("agg-b");
        var at = DateTime.UtcNow.AddMinutes(-30);
        await SampleAsync(a, at, 10, memUsed: 100);
        await SampleAsync(a, at.AddMinutes(1), 30, memUsed: 300);
        await SampleAsync(b, at, 80);
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/metrics/aggregate?from={Iso(at.AddMinutes(-1))}&to={Iso(DateTime.UtcNow)}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["aggregates", "meta"]);
        var first = body.GetProperty("aggregates")[0];
        first.PropertyNames().ShouldBe([
            "instanceId", "instanceName", "from", "to", "avgCpuPercent", "maxCpuPercent", "avgMemUsed", "maxMemUsed", "avgDiskUsed", "maxDiskUsed", "avgLoadAvg1", "sampleCount",
        ]);
        first.GetProperty("instanceName").GetString().ShouldBe("agg-a");
        first.GetProperty("avgCpuPercent").GetDouble().ShouldBe(20);
        first.GetProperty("maxMemUsed").GetInt64().ShouldBe(300);
        first.GetProperty("sampleCount").GetInt64().ShouldBe(2);
        body.GetProperty("meta").GetProperty("count").GetInt32().ShouldBe(2);
        await (await client.GetAsync("/api/v1/metrics/aggregate")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Latest_is_the_newest_snapshot_per_instance_with_percentages()
    {
        var a = await SeedInstanceAsync("late-a");
        var b = await SeedInstanceAsync("late-b");
        await SampleAsync(a, DateTime.UtcNow.AddMinutes(-5), 10);
        await SampleAsync(a, DateTime.UtcNow.AddMinutes(-1), 60, memUsed: 250, memTotal: 1000, diskUsed: 1, diskTotal: 3);
        await SampleAsync(b, DateTime.UtcNow.AddMinutes(-2), 5);
        var client = await As(BaseRole.Viewer);

        var one = await (await client.GetAsync($"/api/v1/metrics/latest?instanceIds={a}")).ShouldBeJsonAsync();
        var all = await (await client.GetAsync("/api/v1/metrics/latest")).ShouldBeJsonAsync();

        one.PropertyNames().ShouldBe(["metrics", "count"]);
        var snapshot = one.GetProperty("metrics").EnumerateArray().ShouldHaveSingleItem();
        snapshot.GetProperty("cpuPercent").GetDouble().ShouldBe(60);
        snapshot.GetProperty("memPercent").GetDouble().ShouldBe(25);
        snapshot.GetProperty("diskPercent").GetDouble().ShouldBe(33.33);
        all.GetProperty("count").GetInt32().ShouldBe(2);
        await (await client.GetAsync("/api/v1/metrics/latest?instanceIds=nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_bad_timeseries_range_is_400()
    {
        var client = await As(BaseRole.Viewer);

        (await (await client.GetAsync("/api/v1/metrics/timeseries?range=99y")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("range must be one of: 1h, 6h, 24h, 7d");
    }

    [Fact]
    public async Task Metrics_of_other_teams_instances_stay_hidden()
    {
        var hidden = await SeedInstanceAsync("hidden", teamId: Guid.CreateVersion7());
        await SampleAsync(hidden, DateTime.UtcNow.AddMinutes(-1), 77);
        var client = await As(BaseRole.Viewer);

        (await (await client.GetAsync("/api/v1/metrics/latest")).ShouldBeJsonAsync()).GetProperty("count").GetInt32().ShouldBe(0);
        (await (await client.GetAsync("/api/v1/metrics/timeseries")).ShouldBeJsonAsync()).GetProperty("datapoints").GetArrayLength().ShouldBe(0);
    }
}
