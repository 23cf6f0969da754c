using System.Diagnostics.Metrics;
using System.Globalization;
using System.Text;

namespace Capstan.Infrastructure.Observability;

/// <summary>The aggregated values of one instrument, one entry per distinct tag set.</summary>
internal sealed class InstrumentSeries
{
    private readonly Instrument _instrument;
    private readonly double[] _buckets;
    private readonly Dictionary<string, Sample> _samples = new(StringComparer.Ordinal);
    private readonly LabelCache _labels = new();
    private readonly Kind _kind;

    public InstrumentSeries(Instrument instrument, double[] buckets)
    {
        _instrument = instrument;
        _buckets = buckets;
        var definition = instrument.GetType().IsGenericType ? instrument.GetType().GetGenericTypeDefinition() : instrument.GetType();
        _kind = definition.Name switch
        {
            "Counter`1" => Kind.Counter,
            "ObservableCounter`1" => Kind.ObservableCounter,
            "Histogram`1" => Kind.Histogram,
            "UpDownCounter`1" => Kind.UpDownCounter,
            _ => Kind.Gauge,
        };
        MetricName = PrometheusText.MetricName(instrument.Name, instrument.Unit, _kind is Kind.Counter or Kind.ObservableCounter);
    }

    private enum Kind
    {
        Counter,
        ObservableCounter,
        UpDownCounter,
        Gauge,
        Histogram,
    }

    public string MetricName { get; }

    public string Description => _instrument.Description ?? _instrument.Name;

    public bool IsObservable => _instrument.IsObservable;

    public string PrometheusType => _kind switch
    {
        Kind.Counter or Kind.ObservableCounter => "counter",
        Kind.Histogram => "histogram",
        _ => "gauge",
    };

    public void Record(double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var labels = _labels.Of(tags);
        lock (_samples)
        {
            if (!_samples.TryGetValue(labels, out var sample))
            {
                sample = new Sample(_kind == Kind.Histogram ? new long[_buckets.Length + 1] : null);
                _samples[labels] = sample;
            }

            switch (_kind)
            {
                case Kind.Counter or Kind.UpDownCounter:
                    sample.Value += value;
                    break;
                case Kind.Histogram:
                    sample.Buckets![BucketOf(value)]++;
                    sample.Value += value;
                    sample.Count++;
                    break;
                default:
                    // Observable instruments report absolute values; gauges report the latest.
                    sample.Value = value;
                    break;
            }
        }
    }

    /// <summary>The first bucket whose upper bound holds <paramref name="value"/>, or the +Inf one; a plain loop, since
    /// this runs for every request and a predicate would allocate a closure each time.</summary>
    private int BucketOf(double value)
    {
        var index = 0;
        while (index < _buckets.Length && !(value <= _buckets[index]))
        {
            index++;
        }

        return index;
    }

    public void ResetObservations()
    {
        lock (_samples)
        {
            _samples.Clear();
        }
    }

    public void WriteSamples(StringBuilder output)
    {
        // Copied under the lock, sorted and formatted outside it: every request records into these series, and none
        // should wait while a scrape formats a busy histogram's lines.
        (string Labels, Sample Sample)[] rows;
        lock (_samples)
        {
            rows = [.. _samples.Select(entry => (entry.Key, entry.Value.Copy()))];
        }

        Array.Sort(rows, (left, right) => string.CompareOrdinal(left.Labels, right.Labels));
        foreach (var (labels, sample) in rows)
        {
            if (_kind != Kind.Histogram)
            {
                WriteLine(output, MetricName, labels, sample.Value);
                continue;
            }

            long cumulative = 0;
            for (var i = 0; i < _buckets.Length; i++)
            {
                cumulative += sample.Buckets![i];
                WriteLine(output, MetricName + "_bucket", PrometheusText.WithLabel(labels, "le", PrometheusText.FormatValue(_buckets[i])), cumulative);
            }

            cumulative += sample.Buckets![_buckets.Length];
            WriteLine(output, MetricName + "_bucket", PrometheusText.WithLabel(labels, "le", "+Inf"), cumulative);
            WriteLine(output, MetricName + "_sum", labels, sample.Value);
            WriteLine(output, MetricName + "_count", labels, sample.Count);
        }
    }

    private static void WriteLine(StringBuilder output, string name, string labels, double value)
    {
        output.Append(name);
        if (labels.Length > 0)
        {
            output.Append('{').Append(labels).Append('}');
        }

        output.Append(' ').Append(PrometheusText.FormatValue(value)).Append('\n');
    }

    /// <summary>
    /// The label text of the tag sets seen before: an instrument records with the same few tag sets over and over
    /// (Npgsql's per-command instruments several times per request), and building the text each time was a measurable
    /// share of a request's CPU. Looked up by a hash of the tags and confirmed tag by tag; past its capacity (a
    /// high-cardinality tag) the text is built each time, as before.
    /// </summary>
    private sealed class LabelCache
    {
        private const int Capacity = 512;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<int, (KeyValuePair<string, object?>[] Tags, string Labels)> _entries = new();

        public string Of(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (tags.Length == 0)
            {
                return string.Empty;
            }

            var hash = Hash(tags);
            if (_entries.TryGetValue(hash, out var entry) && SameTags(entry.Tags, tags))
            {
                return entry.Labels;
            }

            var labels = PrometheusText.Labels(tags);
            if (_entries.Count < Capacity)
            {
                _entries.TryAdd(hash, (tags.ToArray(), labels));
            }

            return labels;
        }

        private static int Hash(ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var hash = default(HashCode);
            foreach (var tag in tags)
            {
                hash.Add(tag.Key, StringComparer.Ordinal);
                hash.Add(tag.Value);
            }

            return hash.ToHashCode();
        }

        private static bool SameTags(KeyValuePair<string, object?>[] cached, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            if (cached.Length != tags.Length)
            {
                return false;
            }

            for (var i = 0; i < tags.Length; i++)
            {
                if (!string.Equals(cached[i].Key, tags[i].Key, StringComparison.Ordinal) || !Equals(cached[i].Value, tags[i].Value))
                {
                    return false;
                }
            }

            return true;
        }
    }

    private sealed class Sample(long[]? buckets)
    {
        public double Value { get; set; }

        public long Count { get; set; }

        public long[]? Buckets { get; } = buckets;

        public Sample Copy() => new(Buckets?.Clone() as long[]) { Value = Value, Count = Count };
    }
}

/// <summary>Naming and escaping rules of the Prometheus text exposition format.</summary>
internal static class PrometheusText
{
    public static string MetricName(string instrumentName, string? unit, bool isCounter)
    {
        var name = Sanitise(instrumentName);
        var suffix = unit switch
        {
            "s" => "_seconds",
            "ms" => "_milliseconds",
            "By" => "_bytes",
            _ => string.Empty,
        };
        if (suffix.Length > 0 && !name.EndsWith(suffix, StringComparison.Ordinal))
        {
            name += suffix;
        }

        return isCounter && !name.EndsWith("_total", StringComparison.Ordinal) ? name + "_total" : name;
    }

    public static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.Length == 0)
        {
            return string.Empty;
        }

        var pairs = new List<(string Key, string Value)>(tags.Length);
        foreach (var tag in tags)
        {
            pairs.Add((Sanitise(tag.Key), Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? string.Empty));
        }

        pairs.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
        return string.Join(',', pairs.Select(pair => $"{pair.Key}=\"{EscapeLabel(pair.Value)}\""));
    }

    public static string WithLabel(string labels, string key, string value) =>
        labels.Length == 0 ? $"{key}=\"{value}\"" : $"{labels},{key}=\"{value}\"";

    public static string FormatValue(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    public static string EscapeHelp(string text) =>
        text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private static string EscapeLabel(string text) =>
        EscapeHelp(text).Replace("\"", "\\\"", StringComparison.Ordinal);

    private static string Sanitise(string name)
    {
        var builder = new StringBuilder(name.Length);
        foreach (var character in name)
        {
            builder.Append(char.IsAsciiLetterOrDigit(character) || character == '_' || character == ':' ? character : '_');
        }

        if (builder.Length > 0 && char.IsAsciiDigit(builder[0]))
        {
            builder.Insert(0, '_');
        }

        return builder.ToString();
    }
}
