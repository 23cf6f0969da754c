using Capstan.Features.Fleet.Costs;
using Capstan.Features.Fleet.Providers;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Tests.Fleet.Costs;

/// <summary>The cost model's rules with expectations worked out by hand from the shipped price tables.</summary>
public sealed class CostModelTests
{
    private static readonly Lazy<Dictionary<string, ProviderDocument>> Catalogs = new(() =>
        ProviderCatalog.ReadFilesAsync(new ConfigurationBuilder().Build(), CancellationToken.None).GetAwaiter().GetResult().ToDictionary(document => document.Id));

    private static ProviderDocument Fly => Catalogs.Value["fly"];

    private static ProviderDocument Aws => Catalogs.Value["aws"];

    [Fact]
    public void The_price_tables_are_the_reference_facts()
    {
        Catalogs.Value.Keys.Order().ShouldBe(["aws", "azure", "digitalocean", "docker", "e2b", "fly", "gcp", "kubernetes", "northflank", "runpod"]);
        Fly.ComputeTiers.Select(tier => (tier.Id, tier.PricePerMonth)).ShouldBe(
            [("shared-cpu-1x", 1.94m), ("shared-cpu-1x-512", 3.88m), ("shared-cpu-2x", 7.76m), ("performance-1x", 31m), ("performance-2x", 62m), ("performance-4x", 124m), ("performance-8x", 248m)]);
        Aws.ComputeTiers.Select(tier => tier.PricePerMonth).ShouldBe([7.59m, 15.18m, 30.37m, 60.74m, 140.16m, 280.32m]);
        (Fly.Storage.GbPerMonth, Fly.Network.EgressGbFree, Fly.Network.EgressGbPrice).ShouldBe((0.15m, 100m, 0.02m));
        (Aws.Storage.GbPerMonth, Aws.Network.EgressGbFree, Aws.Network.EgressGbPrice).ShouldBe((0.08m, 1m, 0.09m));
        Catalogs.Value.Values.Where(document => document.CostModel).Select(document => document.Id).Order().ShouldBe(["aws", "azure", "fly", "gcp", "northflank", "runpod"]);
    }

    [Fact]
    public void The_default_tier_is_the_middle_one_and_a_tag_can_name_another()
    {
        Fly.DefaultTier!.Id.ShouldBe("performance-1x"); // 7 tiers → index 3
        Aws.DefaultTier!.Id.ShouldBe("t3.large"); // 6 tiers → index 3
        CostModel.TierOf(Aws, """{"tier":"t3.small"}""")!.Id.ShouldBe("t3.small");
        CostModel.TierOf(Aws, """{"size":"m5.xlarge"}""")!.Id.ShouldBe("m5.xlarge");
        CostModel.TierOf(Aws, """{"tier":"not-a-tier"}""")!.Id.ShouldBe("t3.large");
        CostModel.TierOf(Aws, null)!.Id.ShouldBe("t3.large");
    }

    [Fact]
    public void A_monthly_estimate_is_compute_plus_disk_plus_billable_egress()
    {
        // fly performance-1x: 31 + 20 GB × 0.15 = 3.00 + (10 − 100 free → 0) = 34.00
        CostModel.EstimateMonthly(Fly, Fly.Tier("performance-1x")!, 20, 10).ShouldBe(new CostModel.Estimate(31m, 3.00m, 0m, 34.00m));
        // aws t3.large: 60.74 + 100 GB × 0.08 = 8.00 + (51 − 1) × 0.09 = 4.50 → 73.24
        CostModel.EstimateMonthly(Aws, Aws.Tier("t3.large")!, 100, 51).ShouldBe(new CostModel.Estimate(60.74m, 8.00m, 4.50m, 73.24m));
    }

    [Fact]
    public void A_day_is_a_thirtieth_of_the_month_with_compute_only_while_running()
    {
        // fly performance-1x running, 50 GB disk, 5 GB sent today (150 GB a month, 50 billable):
        // compute 31/30 = 1.033333, storage 50 × 0.15 / 30 = 0.25, network 50 × 0.02 / 30 = 0.033333
        CostModel.Daily(Fly, Fly.Tier("performance-1x")!, running: true, 50, 5).ShouldBe(new CostModel.Estimate(1.033333m, 0.25m, 0.033333m, 1.316666m));
        // aws t3.small suspended, 20 GB, no egress: storage 20 × 0.08 / 30 = 0.053333 only
        CostModel.Daily(Aws, Aws.Tier("t3.small")!, running: false, 20, 0).ShouldBe(new CostModel.Estimate(0m, 0.053333m, 0m, 0.053333m));
    }

    [Theory]
    [InlineData("7.99", "ok")]
    [InlineData("8", "warning")]
    [InlineData("9.99", "warning")]
    [InlineData("10", "exceeded")]
    [InlineData("12.5", "exceeded")]
    public void Budget_status_turns_at_the_threshold_and_at_the_amount(string spent, string status) =>
        CostModel.BudgetStatus(decimal.Parse(spent, System.Globalization.CultureInfo.InvariantCulture), 10m, 0.8m).ShouldBe(status);

    [Fact]
    public void Spend_percentages_have_two_decimals()
    {
        CostModel.Percent(6m, 10m).ShouldBe(60m);
        CostModel.Percent(1m, 3m).ShouldBe(33.33m);
        CostModel.Percent(25m, 20m).ShouldBe(125m);
    }

    [Fact]
    public void Under_used_instances_are_offered_the_tier_below_their_own()
    {
        var current = Fly.Tier("performance-1x")!;

        var recommendation = CostModel.RightSize(Fly, current, avgCpuPercent: 10, avgMemPercent: 20, samples: 20).ShouldNotBeNull();

        recommendation.Suggested.Id.ShouldBe("shared-cpu-2x");
        recommendation.SavingsUsdMo.ShouldBe(23.24m); // 31 − 7.76
        recommendation.Confidence.ShouldBe(0.2); // 20 samples / 100
        CostModel.RightSize(Fly, current, 10, 20, samples: 200)!.Confidence.ShouldBe(0.95);
    }

    [Theory]
    [InlineData(40, 20, 20)] // CPU not under 40 %
    [InlineData(10, 50, 20)] // memory not under 50 %
    [InlineData(10, 20, 9)] // fewer than 10 samples
    public void Busy_or_barely_measured_instances_get_no_recommendation(double cpu, double memory, long samples) =>
        CostModel.RightSize(Fly, Fly.Tier("performance-1x")!, cpu, memory, samples).ShouldBeNull();

    [Fact]
    public void The_smallest_tier_has_nothing_below_it() =>
        CostModel.RightSize(Fly, Fly.Tier("shared-cpu-1x")!, 1, 1, 50).ShouldBeNull();
}
