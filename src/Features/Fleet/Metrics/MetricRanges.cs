namespace Capstan.Features.Fleet.Metrics;

/// <summary>The time ranges of the timeseries routes (seed 004: 1h, 6h, 24h, 7d) and the bucket each is averaged in,
/// and the granularities of the range route.</summary>
internal static class MetricRanges
{
    public static readonly IReadOnlyDictionary<string, (TimeSpan Span, TimeSpan Bucket, string Granularity)> Ranges =
        new Dictionary<string, (TimeSpan, TimeSpan, string)>(StringComparer.Ordinal)
        {
            ["1h"] = (TimeSpan.FromHours(1), TimeSpan.FromMinutes(1), "1m"),
            ["6h"] = (TimeSpan.FromHours(6), TimeSpan.FromMinutes(5), "5m"),
            ["24h"] = (TimeSpan.FromHours(24), TimeSpan.FromMinutes(15), "15m"),
            ["7d"] = (TimeSpan.FromDays(7), TimeSpan.FromHours(1), "1h"),
        };

    public static readonly IReadOnlyDictionary<string, TimeSpan?> Granularities = new Dictionary<string, TimeSpan?>(StringComparer.Ordinal)
    {
        ["raw"] = null,
        ["1m"] = TimeSpan.FromMinutes(1),
        ["5m"] = TimeSpan.FromMinutes(5),
        ["1h"] = TimeSpan.FromHours(1),
        ["1d"] = TimeSpan.FromDays(1),
    };

    public const string RangeMessage = "range must be one of: 1h, 6h, 24h, 7d";

    /// <summary>The most points a timeseries answer carries.</summary>
    public const int MaxPoints = 10000;
}
