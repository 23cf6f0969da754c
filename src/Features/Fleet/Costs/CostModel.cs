using System.Text.Json;
using Capstan.Features.Fleet.Providers;

namespace Capstan.Features.Fleet.Costs;

/// <summary>
/// The cost model (reference sindri.md §9.4), as pure functions so each rule can be checked by hand:
/// <list type="bullet">
/// <item>a month of a size: its monthly price + disk GB × storage price + (egress GB − free GB, at least 0) × egress
/// price, each rounded to cents;</item>
/// <item>a day of an instance: a thirtieth of that month, where compute is charged only while the instance RUNS
/// (stopped or suspended instances keep paying for their disk), and egress is the day's egress × 30;</item>
/// <item>an instance's tier: its <c>tier</c> (or <c>size</c>) tag when the provider has it, else the middle tier;</item>
/// <item>budget status: <c>exceeded</c> once spend ≥ amount, <c>warning</c> once spend ≥ amount × threshold, else
/// <c>ok</c>;</item>
/// <item>right-sizing: an instance with at least 10 samples in 30 days averaging under 40 % CPU and under 50 % memory
/// is offered the tier below its own, saving the price difference, with confidence min(0.95, samples / 100).</item>
/// </list>
/// </summary>
internal static class CostModel
{
    public const double GiB = 1024d * 1024 * 1024;

    public const double DefaultDiskGb = 20;

    public const int MinimumSamples = 10;

    public const double CpuLimitPercent = 40;

    public const double MemoryLimitPercent = 50;

    public sealed record Estimate(decimal Compute, decimal Storage, decimal Network, decimal Total);

    public sealed record Recommendation(ComputeTier Current, ComputeTier Suggested, decimal SavingsUsdMo, double Confidence);

    public static Estimate EstimateMonthly(ProviderDocument provider, ComputeTier tier, double diskGb, double egressGb)
    {
        var compute = Math.Round(tier.PricePerMonth, 2);
        var storage = Math.Round((decimal)diskGb * provider.Storage.GbPerMonth, 2);
        var network = Math.Round(Math.Max(0, (decimal)egressGb - provider.Network.EgressGbFree) * provider.Network.EgressGbPrice, 2);
        return new Estimate(compute, storage, network, compute + storage + network);
    }

    /// <summary>One day of an instance, to 6 decimal places (cents are rounded when shown).</summary>
    public static Estimate Daily(ProviderDocument provider, ComputeTier tier, bool running, double diskGb, double egressGbPerDay)
    {
        var compute = running ? tier.PricePerMonth / 30 : 0;
        var storage = (decimal)diskGb * provider.Storage.GbPerMonth / 30;
        var network = Math.Max(0, ((decimal)egressGbPerDay * 30) - provider.Network.EgressGbFree) * provider.Network.EgressGbPrice / 30;
        compute = Math.Round(compute, 6);
        storage = Math.Round(storage, 6);
        network = Math.Round(network, 6);
        return new Estimate(compute, storage, network, compute + storage + network);
    }

    /// <summary>The tier named by the instance's <c>tier</c> or <c>size</c> tag, else the provider's middle tier.</summary>
    public static ComputeTier? TierOf(ProviderDocument provider, string? tagsJson)
    {
        if (!string.IsNullOrEmpty(tagsJson))
        {
            using var tags = JsonDocument.Parse(tagsJson);
            foreach (var key in new[] { "tier", "size" })
            {
                if (tags.RootElement.ValueKind == JsonValueKind.Object && tags.RootElement.TryGetProperty(key, out var value) && value.ValueKind == JsonValueKind.String
                    && provider.Tier(value.GetString()) is { } tagged)
                {
                    return tagged;
                }
            }
        }

        return provider.DefaultTier;
    }

    public static string BudgetStatus(decimal spent, decimal amount, decimal threshold) =>
        spent >= amount ? "exceeded" : spent >= amount * threshold ? "warning" : "ok";

    /// <summary>Spend as a percentage of the amount, to 2 decimal places.</summary>
    public static decimal Percent(decimal spent, decimal amount) => amount <= 0 ? 0 : Math.Round(spent / amount * 100, 2);

    public static Recommendation? RightSize(ProviderDocument provider, ComputeTier current, double avgCpuPercent, double avgMemPercent, long samples)
    {
        if (samples < MinimumSamples || avgCpuPercent >= CpuLimitPercent || avgMemPercent >= MemoryLimitPercent)
        {
            return null;
        }

        var index = provider.ComputeTiers.ToList().FindIndex(tier => tier.Id == current.Id);
        if (index <= 0)
        {
            return null;
        }

        var suggested = provider.ComputeTiers[index - 1];
        return new Recommendation(current, suggested, Math.Round(current.PricePerMonth - suggested.PricePerMonth, 2), Math.Min(0.95, samples / 100d));
    }

    public static decimal Cents(decimal value) => Math.Round(value, 2, MidpointRounding.AwayFromZero);
}
