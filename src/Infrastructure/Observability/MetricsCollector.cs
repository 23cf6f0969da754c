using System.Diagnostics.Metrics;
using System.Text;

namespace Capstan.Infrastructure.Observability;

/// <summary>
/// Aggregates <see cref="System.Diagnostics.Metrics"/> measurements in memory for the Prometheus scrape (no exporter
/// package restores here). Listens to ASP.NET Core hosting and Kestrel (request counts and durations by route and
/// status), Npgsql (the connection pool), the runtime and every <c>Capstan.*</c> meter. Meters made by another host's
/// <see cref="IMeterFactory"/> in the same process are ignored, so test hosts do not count each other's requests.
/// </summary>
public sealed class MetricsCollector : IDisposable
{
    private static readonly string[] MeterPrefixes =
    [
        "Microsoft.AspNetCore.Hosting",
        "Microsoft.AspNetCore.Server.Kestrel",
        "Npgsql",
        "System.Runtime",
        "Capstan",
    ];

    private static readonly double[] SecondsBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
    private static readonly double[] DefaultBuckets = [0, 5, 10, 25, 50, 75, 100, 250, 500, 750, 1000, 2500, 5000, 7500, 10000];

    private readonly MeterListener _listener = new();
    private readonly IMeterFactory _meterFactory;
    private readonly List<InstrumentSeries> _instruments = [];
    private readonly Lock _scrapeLock = new();

    public MetricsCollector(IMeterFactory meterFactory)
    {
        _meterFactory = meterFactory;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (!Listens(instrument))
            {
                return;
            }

            var series = new InstrumentSeries(instrument, BucketsFor(instrument));
            lock (_instruments)
            {
                _instruments.Add(series);
            }

            listener.EnableMeasurementEvents(instrument, series);
        };
        _listener.MeasurementsCompleted = (instrument, state) =>
        {
            lock (_instruments)
            {
                _instruments.Remove((InstrumentSeries)state!);
            }
        };
        _listener.SetMeasurementEventCallback<double>((_, value, tags, state) => ((InstrumentSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<float>((_, value, tags, state) => ((InstrumentSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<long>((_, value, tags, state) => ((InstrumentSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<int>((_, value, tags, state) => ((InstrumentSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<short>((_, value, tags, state) => ((InstrumentSeries)state!).Record(value, tags));
        _listener.SetMeasurementEventCallback<byte>((_, value, tags, state) => ((InstrumentSeries)state!).Record(value, tags));
        _listener.Start();
    }

    /// <summary>Collects observable instruments and writes everything in the Prometheus text format (0.0.4).</summary>
    public string Scrape()
    {
        lock (_scrapeLock)
        {
            InstrumentSeries[] snapshot;
            lock (_instruments)
            {
                snapshot = [.. _instruments];
            }

            foreach (var series in snapshot.Where(series => series.IsObservable))
            {
                series.ResetObservations();
            }

            _listener.RecordObservableInstruments();

            var output = new StringBuilder();
            foreach (var family in snapshot.GroupBy(series => series.MetricName).OrderBy(group => group.Key, StringComparer.Ordinal))
            {
                var first = family.First();
                output.Append("# HELP ").Append(family.Key).Append(' ').Append(PrometheusText.EscapeHelp(first.Description)).Append('\n');
                output.Append("# TYPE ").Append(family.Key).Append(' ').Append(first.PrometheusType).Append('\n');
                foreach (var series in family)
                {
                    series.WriteSamples(output);
                }
            }

            return output.ToString();
        }
    }

    public void Dispose() => _listener.Dispose();

    private bool Listens(Instrument instrument)
    {
        var scope = instrument.Meter.Scope;
        if (scope is not null && !ReferenceEquals(scope, _meterFactory))
        {
            return false;
        }

        return MeterPrefixes.Any(prefix => instrument.Meter.Name.StartsWith(prefix, StringComparison.Ordinal));
    }

    private static double[] BucketsFor(Instrument instrument)
    {
        var advised = instrument switch
        {
            Histogram<double> histogram => histogram.Advice?.HistogramBucketBoundaries?.ToArray(),
            Histogram<long> histogram => histogram.Advice?.HistogramBucketBoundaries?.Select(value => (double)value).ToArray(),
            Histogram<int> histogram => histogram.Advice?.HistogramBucketBoundaries?.Select(value => (double)value).ToArray(),
            _ => null,
        };
        return advised ?? (instrument.Unit == "s" ? SecondsBuckets : DefaultBuckets);
    }
}
