using Capstan.Features.Fleet.Metrics;
using Capstan.Features.Tests.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Metrics;

/// <summary>Metric reads: bucketed time series (fleet and instance), the range route's granularities and limit,
/// per-instance aggregates over a window and the latest snapshot per instance, each limited to visible instances.</summary>
public sealed class MetricsHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private Task SampleAsync(Guid instance, DateTime at, double cpu, long mem = 0, long memTotal = 0, long disk = 0, long diskTotal = 0, double? load = null, long? sent = null) =>
        Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.metrics (instance_id, recorded_at, cpu_percent, mem_used, mem_total, disk_used, disk_total, load_avg_1, load_avg_5, load_avg_15, net_bytes_sent)
            VALUES (@Instance, @At, @Cpu, @Mem, @MemTotal, @Disk, @DiskTotal, @Load, @Load, @Load, @Sent)
            """,
            new { Instance = instance, At = at, Cpu = cpu, Mem = mem, MemTotal = memTotal, Disk = disk, DiskTotal = diskTotal, Load = load, Sent = sent });

    /// <summary>A minute boundary <paramref name="minutesAgo"/> minutes back (samples a few seconds after it share its bucket).</summary>
    private static DateTime MinuteAgo(int minutesAgo)
    {
        var now = DateTime.UtcNow.AddMinutes(-minutesAgo);
        return new DateTime(now.Year, now.Month, now.Day, now.Hour, now.Minute, 0, DateTimeKind.Utc);
    }

    [Fact]
    public async Task The_fleet_time_series_averages_each_instance_per_bucket_oldest_first_within_the_range()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var bucket = MinuteAgo(10);
        await SampleAsync(box, bucket.AddSeconds(5), 10, mem: 100, load: 1, sent: 500);
        await SampleAsync(box, bucket.AddSeconds(35), 20.555, mem: 301, load: 2, sent: 900);
        await SampleAsync(other, bucket.AddSeconds(10), 50);
        var later = bucket.AddMinutes(5);
        await SampleAsync(box, later.AddSeconds(1), 70);
        await SampleAsync(box, DateTime.UtcNow.AddHours(-2), 99);
        await SampleAsync(hidden, bucket.AddSeconds(5), 80);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var hour = await Fixture.SendAsAsync(viewer, new GetTimeseries.Query("1h", null));
        var boxOnly = await Fixture.SendAsAsync(viewer, new GetTimeseries.Query("6h", box));

        (hour.Range, hour.Granularity).ShouldBe(("1h", "1m"));
        hour.Since.ShouldBe(DateTime.UtcNow.AddHours(-1), TimeSpan.FromMinutes(1));
        hour.Datapoints.Select(point => point.Timestamp).ShouldBe([bucket, bucket, later]);
        hour.Datapoints.Select(point => (point.InstanceId, point.SampleCount)).OrderBy(point => point.SampleCount).ThenBy(point => point.InstanceId == box)
            .ShouldBe([(other, 1L), (box, 1L), (box, 2L)]);
        var averaged = hour.Datapoints.Single(point => point.InstanceId == box && point.Timestamp == bucket);
        (averaged.CpuPercent, averaged.MemUsedBytes, averaged.LoadAvg1, averaged.NetBytesSent).ShouldBe((15.28, 201L, (double?)1.5, (long?)900));
        (boxOnly.Granularity, boxOnly.Datapoints.Count).ShouldBe(("5m", 3));
        boxOnly.Datapoints.ShouldAllBe(point => point.InstanceId == box);
        boxOnly.Datapoints[0].CpuPercent.ShouldBe(99);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetTimeseries.Query("2h", null)));
    }

    [Fact]
    public async Task An_instance_time_series_buckets_its_own_samples_and_unknown_or_hidden_instances_are_not_found()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var bucket = MinuteAgo(3);
        await SampleAsync(box, bucket.AddSeconds(1), 10, disk: 10, diskTotal: 100);
        await SampleAsync(box, bucket.AddSeconds(2), 30, disk: 20, diskTotal: 100);
        await SampleAsync(box, DateTime.UtcNow.AddHours(-3), 5);
        await SampleAsync(other, bucket.AddSeconds(1), 90);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var series = await Fixture.SendAsAsync(viewer, new GetInstanceMetrics.Query(box, "1h"));
        var day = await Fixture.SendAsAsync(viewer, new GetInstanceMetrics.Query(box, "24h"));

        (series.InstanceId, series.Range, series.Granularity).ShouldBe((box, "1h", "1m"));
        var point = series.Datapoints.ShouldHaveSingleItem();
        (point.Timestamp, point.CpuPercent, point.DiskUsedBytes, point.DiskTotalBytes, point.SampleCount).ShouldBe((bucket, 20.0, 15L, 100L, 2L));
        (day.Granularity, day.Datapoints.Count).ShouldBe(("15m", 2));
        day.Datapoints[0].Timestamp.ShouldBeLessThan(day.Datapoints[1].Timestamp);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceMetrics.Query(hidden, "1h")));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceMetrics.Query(Guid.CreateVersion7(), "1h")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceMetrics.Query(Guid.Empty, "1h")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceMetrics.Query(box, "30d")));
    }

    [Fact]
    public async Task The_range_series_returns_raw_samples_or_buckets_oldest_first_up_to_the_limit()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var from = MinuteAgo(30);
        await SampleAsync(box, from.AddMinutes(1), 10, load: 1);
        await SampleAsync(box, from.AddMinutes(2), 20, load: 2);
        await SampleAsync(other, from.AddMinutes(3), 30);
        await SampleAsync(hidden, from.AddMinutes(4), 40);
        await SampleAsync(box, from.AddMinutes(-1), 50);
        await SampleAsync(box, from.AddMinutes(20), 60);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var to = new DateTimeOffset(from.AddMinutes(20));

        var raw = await Fixture.SendAsAsync(viewer, new GetTimeseriesRange.Query(from, to, "raw", 500, null));
        var limited = await Fixture.SendAsAsync(viewer, new GetTimeseriesRange.Query(from, to, "raw", 2, null));
        var hourly = await Fixture.SendAsAsync(viewer, new GetTimeseriesRange.Query(from, to, "1d", 500, box));

        // The window is [from, to): the sample at `to` and the one before `from` are outside it.
        raw.Points.Select(point => point.CpuPercent).ShouldBe([10.0, 20.0, 30.0]);
        raw.Points.ShouldAllBe(point => point.SampleCount == 1);
        raw.Meta.ShouldBe(new GetTimeseriesRange.Meta(null, from, to.UtcDateTime, "raw", 3));
        limited.Points.Select(point => point.CpuPercent).ShouldBe([10.0, 20.0]);
        var day = hourly.Points.ShouldHaveSingleItem();
        (day.InstanceId, day.CpuPercent, day.LoadAvg1, day.SampleCount).ShouldBe((box, 15.0, (double?)1.5, 2L));
        hourly.Meta.Granularity.ShouldBe("1d");
    }

    [Theory]
    [InlineData(false, true, "1m", 500)]
    [InlineData(true, false, "1m", 500)]
    [InlineData(true, true, "1w", 500)]
    [InlineData(true, true, "1m", 0)]
    [InlineData(true, true, "1m", 2001)]
    public async Task The_range_series_rejects_a_missing_bound_an_unknown_granularity_or_a_limit_out_of_range(bool withFrom, bool withTo, string granularity, int limit)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var now = DateTimeOffset.UtcNow;

        await Should.ThrowAsync<ValidationException>(() =>
            Fixture.SendAsAsync(viewer, new GetTimeseriesRange.Query(withFrom ? now.AddHours(-1) : null, withTo ? now : null, granularity, limit, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetTimeseriesRange.Query(now, now, "1m", 500, null)));
    }

    [Fact]
    public async Task Aggregates_summarise_each_visible_instance_over_the_window_by_name()
    {
        var zulu = await InstanceAsync("zulu");
        var alpha = await InstanceAsync("alpha");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var from = MinuteAgo(60);
        var to = MinuteAgo(0);
        await SampleAsync(zulu, from.AddMinutes(1), 10, mem: 100, disk: 1000, load: 0.5);
        await SampleAsync(zulu, from.AddMinutes(2), 31, mem: 300, disk: 3000, load: 1);
        await SampleAsync(zulu, from.AddMinutes(-5), 99, mem: 9999);
        await SampleAsync(alpha, from.AddMinutes(3), 5);
        await SampleAsync(hidden, from.AddMinutes(3), 5);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var all = await Fixture.SendAsAsync(viewer, new GetMetricsAggregate.Query(from, to, null));
        var one = await Fixture.SendAsAsync(viewer, new GetMetricsAggregate.Query(from, to, zulu));

        all.Aggregates.Select(aggregate => aggregate.InstanceName).ShouldBe(["alpha", "zulu"]);
        all.Meta.ShouldBe(new GetMetricsAggregate.Meta(null, from, to, 2));
        var summary = one.Aggregates.ShouldHaveSingleItem();
        summary.ShouldBe(summary with
        {
            InstanceId = zulu,
            InstanceName = "zulu",
            AvgCpuPercent = 20.5,
            MaxCpuPercent = 31,
            AvgMemUsed = 200,
            MaxMemUsed = 300,
            AvgDiskUsed = 2000,
            MaxDiskUsed = 3000,
            AvgLoadAvg1 = 0.75,
            SampleCount = 2,
        });
        (summary.From, summary.To).ShouldBe((from, to));
        one.Meta.InstanceId.ShouldBe(zulu);
    }

    [Fact]
    public async Task Aggregates_need_both_bounds_in_order()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var now = DateTimeOffset.UtcNow;

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetMetricsAggregate.Query(null, now, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetMetricsAggregate.Query(now, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetMetricsAggregate.Query(now, now.AddMinutes(-1), null)));
    }

    [Fact]
    public async Task The_latest_snapshot_of_each_instance_has_percentages_and_named_instances_include_destroyed_ones()
    {
        var box = await InstanceAsync("box");
        var alpha = await InstanceAsync("alpha");
        var gone = await InstanceAsync("gone", "DESTROYED");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        await InstanceAsync("silent");
        await SampleAsync(box, MinuteAgo(5), 10, mem: 1, memTotal: 4, disk: 1, diskTotal: 3);
        await SampleAsync(box, MinuteAgo(1), 42, mem: 512, memTotal: 2048, disk: 1, diskTotal: 3, load: 0.25, sent: 7);
        await SampleAsync(alpha, MinuteAgo(2), 5);
        await SampleAsync(gone, MinuteAgo(2), 6);
        await SampleAsync(hidden, MinuteAgo(2), 7);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var all = await Fixture.SendAsAsync(viewer, new GetLatestMetrics.Query(null));
        var named = await Fixture.SendAsAsync(viewer, new GetLatestMetrics.Query($" {gone} ,{box},{hidden},{box}"));

        all.Metrics.Select(snapshot => snapshot.InstanceName).ShouldBe(["alpha", "box"]);
        all.Count.ShouldBe(2);
        var latest = all.Metrics[1];
        (latest.CpuPercent, latest.MemPercent, latest.DiskPercent, latest.LoadAvg1, latest.NetBytesSent).ShouldBe((42.0, 25.0, 33.33, (double?)0.25, (long?)7));
        latest.Timestamp.ShouldBe(MinuteAgo(1), TimeSpan.FromMinutes(1));
        all.Metrics[0].MemPercent.ShouldBe(0);
        named.Metrics.Select(snapshot => snapshot.InstanceName).ShouldBe(["box", "gone"]);
    }

    [Fact]
    public async Task The_latest_snapshots_reject_bad_or_too_many_ids()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetLatestMetrics.Query("not-a-guid")));
        await Should.ThrowAsync<ValidationException>(() =>
            Fixture.SendAsAsync(viewer, new GetLatestMetrics.Query(string.Join(',', Enumerable.Range(0, 201).Select(_ => Guid.CreateVersion7())))));
    }
}
