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
    public void Meters_of_another_host_are_not_collected()
    {
        using var other = new ServiceCollection().AddMetrics().BuildServiceProvider();
        using var collector = new MetricsCollector(_services.GetRequiredService<IMeterFactory>());
        var foreign = other.GetRequiredService<IMeterFactory>().Create("Capstan.Foreign");
        foreign.CreateCounter<int>("capstan.foreign.hits").Add(1);

        collector.Scrape().ShouldNotContain("capstan_foreign_hits");
    }
}
