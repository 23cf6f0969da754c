namespace Capstan.Features.Fleet.Costs;

/// <summary>A right-sizing recommendation as seed 004's clients read it (reference sindri.md §8.9).</summary>
public sealed record RecommendationView(
    Guid Id,
    Guid InstanceId,
    string InstanceName,
    string Provider,
    string CurrentTier,
    string SuggestedTier,
    decimal CurrentUsdMo,
    decimal SuggestedUsdMo,
    decimal SavingsUsdMo,
    double AvgCpuPercent,
    double AvgMemPercent,
    long SampleCount,
    double Confidence,
    DateTime GeneratedAt,
    bool Dismissed,
    DateTime? DismissedAt)
{
    public const string Columns = """
        r.id, r.instance_id, i.name AS instance_name, i.provider, r.current_tier, r.suggested_tier, r.current_usd_mo, r.suggested_usd_mo, r.savings_usd_mo,
        r.avg_cpu_percent, r.avg_mem_percent, r.sample_count, r.confidence, r.generated_at, r.dismissed, r.dismissed_at
        """;
}
