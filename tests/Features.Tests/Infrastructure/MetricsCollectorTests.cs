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
