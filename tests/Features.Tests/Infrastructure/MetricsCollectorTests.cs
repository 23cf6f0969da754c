using System.Diagnostics.Metrics;
using Capstan.Infrastructure.Observability;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The Prometheus writer, driven by instruments of a private meter factory.</summary>
public sealed class MetricsCollectorTests : IDisposable
{
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();

    public void Dispose() => _services.Dispose();

    [Fact]
    public void Counters_histograms_and_gauges_are_written_in_exposition_format()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        using var collector = new MetricsCollector(factory);
        var meter = factory.Create("Capstan.Test");
        var counter = meter.CreateCounter<long>("capstan.test.jobs", description: "Jobs done.");
        var histogram = meter.CreateHistogram<double>("capstan.test.latency", unit: "s");
        var level = 7;
        meter.CreateObservableGauge("capstan.test.queue_depth", () => level);

        counter.Add(2, new KeyValuePair<string, object?>("kind", "a\"b"));
        counter.Add(3, new KeyValuePair<string, object?>("kind", "a\"b"));
        histogram.Record(0.003);
        histogram.Record(0.2);
        histogram.Record(30);
        var first = collector.Scrape();
        level = 9;
        var second = collector.Scrape();

        first.ShouldContain("# HELP capstan_test_jobs_total Jobs done.\n# TYPE capstan_test_jobs_total counter\ncapstan_test_jobs_total{kind=\"a\\\"b\"} 5\n");
        first.ShouldContain("capstan_test_latency_seconds_bucket{le=\"0.005\"} 1\n");
        first.ShouldContain("capstan_test_latency_seconds_bucket{le=\"0.25\"} 2\n");
        first.ShouldContain("capstan_test_latency_seconds_bucket{le=\"10\"} 2\n");
        first.ShouldContain("capstan_test_latency_seconds_bucket{le=\"+Inf\"} 3\n");
        first.ShouldContain("capstan_test_latency_seconds_count 3\n");
        first.ShouldContain("capstan_test_queue_depth 7\n");
        second.ShouldContain("capstan_test_queue_depth 9\n");
    }

    [Fact]
    public async Task A_scrape_while_requests_record_shows_each_histogram_series_whole()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        using var collector = new MetricsCollector(factory);
        var histogram = factory.Create("Capstan.Test").CreateHistogram<double>("capstan.test.request", unit: "s");
        using var stop = new CancellationTokenSource();
        using var running = new CountdownEvent(4);
        // Threads of their own: four loops that spin until told to stop must not wait for the thread pool to grow.
        var recorders = Enumerable.Range(0, 4).Select(worker => Task.Factory.StartNew(() =>
        {
            var tag = new KeyValuePair<string, object?>("route", $"r{worker % 2}");
            histogram.Record(0, tag);
            running.Signal();
            for (var i = 0; !stop.IsCancellationRequested; i++)
            {
                histogram.Record(i % 7 * 0.01, tag);
            }
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToList();

        try
        {
            running.Wait(TimeSpan.FromSeconds(10)).ShouldBeTrue();
            for (var scrape = 0; scrape < 50; scrape++)
            {
                var lines = collector.Scrape().Split('\n');
                foreach (var route in new[] { "r0", "r1" })
                {
                    // The +Inf bucket counts every observation, so it equals _count unless the copy was torn.
                    var infinity = lines.SingleOrDefault(line => line.StartsWith($"capstan_test_request_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} ", StringComparison.Ordinal));
                    var count = lines.SingleOrDefault(line => line.StartsWith($"capstan_test_request_seconds_count{{route=\"{route}\"}} ", StringComparison.Ordinal));
                    infinity.ShouldNotBeNull();
                    infinity.Split(' ')[1].ShouldBe(count?.Split(' ')[1]);
                }
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(recorders);
        }
    }

    [Fact]
    public void Repeated_tag_sets_keep_their_own_series_whatever_the_order_of_recording()
    {
        var factory = _services.GetRequiredService<IMeterFactory>();
        using var collector = new MetricsCollector(factory);
        var counter = factory.Create("Capstan.Test").CreateCounter<long>("capstan.test.commands");
        KeyValuePair<string, object?> Tag(string key, object? value) => new(key, value);

        // Label text is cached per tag set: equal sets share a series, sets differing in one value or in one key do not.
        for (var round = 0; round < 3; round++)
        {
            counter.Add(1, Tag("pool", "main"), Tag("status", 200));
            counter.Add(10, Tag("pool", "main"), Tag("status", 500));
            counter.Add(100, Tag("pool", "replica"), Tag("status", 200));
            counter.Add(1000, Tag("pool", "main"), Tag("code", 200));
            counter.Add(10000, Tag("pool", "main"));
        }

        var text = collector.Scrape();

        text.ShouldContain("capstan_test_commands_total{pool=\"main\",status=\"200\"} 3\n");
        text.ShouldContain("capstan_test_commands_total{pool=\"main\",status=\"500\"} 30\n");
        text.ShouldContain("capstan_test_commands_total{pool=\"replica\",status=\"200\"} 300\n");
        text.ShouldContain("capstan_test_commands_total{code=\"200\",pool=\"main\"} 3000\n");
        text.ShouldContain("capstan_test_commands_total{pool=\"main\"} 30000\n");
    }

    [Fact]
    public void Meters_of_another_host_are_not_collected()
    {
        using var other = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var collector = new MetricsCollector(_services.GetRequiredService<IMeterFactory>());
        var foreign = other.GetRequiredService<IMeterFactory>().Create("Capstan.Foreign");
        foreign.CreateCounter<int>("capstan.foreign.hits").Add(1);

        collector.Scrape().ShouldNotContain("capstan_foreign_hits");
    }
}
