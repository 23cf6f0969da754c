using System.Globalization;
using System.Text.RegularExpressions;

namespace Capstan.Bench;

/// <summary>The API's garbage collections so far, read from its Prometheus scrape (the runtime meter's
/// <c>dotnet.gc.collections</c> by generation, <c>dotnet.gc.pause.time</c> and <c>dotnet.gc.heap.total_allocated</c>).</summary>
public sealed partial record GcTotals(long Gen0, long Gen1, long Gen2, double PauseMs, double AllocatedBytes)
{
    public static async Task<GcTotals> ReadAsync(HttpClient api)
    {
        var text = await api.GetStringAsync("/metrics");
        long gen0 = 0, gen1 = 0, gen2 = 0;
        double pauseSeconds = 0, allocated = 0;
        foreach (var line in text.Split('\n'))
        {
            if (Collections().Match(line) is { Success: true } collections)
            {
                var count = (long)double.Parse(collections.Groups["count"].Value, CultureInfo.InvariantCulture);
                // gen2 also counts the large and pinned object heaps, which are collected with it.
                _ = collections.Groups["gen"].Value switch
                {
                    "gen0" => gen0 += count,
                    "gen1" => gen1 += count,
                    _ => gen2 += count,
                };
            }
            else if (Pause().Match(line) is { Success: true } pause)
            {
                pauseSeconds += double.Parse(pause.Groups["seconds"].Value, CultureInfo.InvariantCulture);
            }
            else if (Allocated().Match(line) is { Success: true } bytes)
            {
                allocated += double.Parse(bytes.Groups["bytes"].Value, CultureInfo.InvariantCulture);
            }
        }

        return new GcTotals(gen0, gen1, gen2, pauseSeconds * 1000, allocated);
    }

    public static GcTotals operator -(GcTotals after, GcTotals before) =>
        new(after.Gen0 - before.Gen0, after.Gen1 - before.Gen1, after.Gen2 - before.Gen2, after.PauseMs - before.PauseMs, after.AllocatedBytes - before.AllocatedBytes);

    /// <summary>The collections, their pauses and what was allocated per operation.</summary>
    public string Describe(long operations) =>
        string.Create(CultureInfo.InvariantCulture, $"gen0 {Gen0}, gen1 {Gen1}, gen2 {Gen2}, {PauseMs:0} ms paused, {AllocatedBytes / Math.Max(1, operations) / 1024:0.0} KB allocated per request");

    [GeneratedRegex("""^dotnet_gc_collections\w*\{[^}]*"(?<gen>gen[012]|loh|poh)"[^}]*\}\s+(?<count>\S+)""")]
    private static partial Regex Collections();

    [GeneratedRegex("""^dotnet_gc_pause_time\w*(\{[^}]*\})?\s+(?<seconds>\S+)""")]
    private static partial Regex Pause();

    [GeneratedRegex("""^dotnet_gc_heap_total_allocated\w*(\{[^}]*\})?\s+(?<bytes>\S+)""")]
    private static partial Regex Allocated();
}
