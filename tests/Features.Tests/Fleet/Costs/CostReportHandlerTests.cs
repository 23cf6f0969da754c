using System.Text.Json;
using Capstan.Features.Fleet.Costs;
using Capstan.Features.Fleet.Providers;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Tests.Fleet.Costs;

/// <summary>The cost reports (summary, per instance, breakdown, daily trends, pricing) through the pipeline: sums of the
/// range's entries in cents, filtered by instance and provider, without other teams' instances.</summary>
public sealed class CostReportHandlerTests(FleetHandlerFixture fixture) : CostSliceHandlerTest(fixture)
{
    private static readonly DateTime From = new(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc);

    private static readonly DateTime To = new(2026, 1, 4, 0, 0, 0, DateTimeKind.Utc);

    private sealed record Fleet(Guid Web, Guid Db, Guid Hidden, Guid HiddenTeam);

    /// <summary>web (fly, sea) spends 1.316666 on Jan 1 and 1.783333 on Jan 2; db (aws) 0.559333 on Jan 3; another team's
    /// instance 5 on Jan 2; web also spends 9 on Dec 31 and 7 on Jan 4, both outside [Jan 1, Jan 4).</summary>
    private async Task<Fleet> FleetAsync()
    {
        var web = await CostInstanceAsync("web", "fly", region: "sea");
        var db = await CostInstanceAsync("db", "aws", region: "us-east-1");
        var hidden = await CostInstanceAsync("hidden", "fly", OtherTeam);
        await EntryAsync(web, "fly", From, compute: 1.033333m, storage: 0.25m, network: 0.033333m);
        await EntryAsync(web, "fly", From.AddDays(1), compute: 1.033333m, storage: 0.25m, llm: 0.5m, source: "actual");
        await EntryAsync(db, "aws", From.AddDays(2), compute: 0.506m, storage: 0.053333m);
        await EntryAsync(hidden, "fly", From.AddDays(1), compute: 5m);
        await EntryAsync(web, "fly", From.AddDays(-1), compute: 9m);
        await EntryAsync(web, "fly", To, compute: 7m);
        return new Fleet(web, db, hidden, OtherTeam);
    }

    [Fact]
    public async Task The_summary_sums_the_range_in_cents_per_component_provider_and_instance()
    {
        var fleet = await FleetAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var summary = await Fixture.SendAsAsync(viewer, new GetCostSummary.Query(From, To, null, null));

        // 1.316666 + 1.783333 + 0.559333 = 3.659332; compute 2×1.033333 + 0.506; storage 0.25×2 + 0.053333.
        (summary.TotalUsd, summary.ComputeUsd, summary.StorageUsd, summary.NetworkUsd, summary.LlmUsd).ShouldBe((3.66m, 2.57m, 0.55m, 0.03m, 0.50m));
        summary.ByProvider.ShouldBe(new Dictionary<string, decimal> { ["aws"] = 0.56m, ["fly"] = 3.10m });
        summary.ByInstance.ShouldBe([new(fleet.Web, "web", "fly", 3.10m), new(fleet.Db, "db", "aws", 0.56m)]);
        (summary.PeriodStart, summary.PeriodEnd, summary.Currency).ShouldBe((From, To, "USD"));
    }

    [Fact]
    public async Task The_summary_filters_by_provider_and_instance_and_shows_other_teams_to_admins()
    {
        var fleet = await FleetAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Fixture.SendAsAsync(viewer, new GetCostSummary.Query(From, To, null, " AWS"))).TotalUsd.ShouldBe(0.56m);
        (await Fixture.SendAsAsync(viewer, new GetCostSummary.Query(From, To, fleet.Web, null))).ByInstance.ShouldHaveSingleItem().InstanceId.ShouldBe(fleet.Web);
        (await Fixture.SendAsAsync(viewer, new GetCostSummary.Query(From, To, fleet.Hidden, null))).TotalUsd.ShouldBe(0m);

        var all = await Fixture.SendAsAsync(admin, new GetCostSummary.Query(From, To, null, null));
        all.TotalUsd.ShouldBe(8.66m);
        all.ByInstance[0].ShouldBe(new GetCostSummary.InstanceTotal(fleet.Hidden, "hidden", "fly", 5.00m));
        all.ByProvider["fly"].ShouldBe(8.10m);
    }

    [Fact]
    public async Task A_bad_range_or_provider_is_refused()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new GetCostSummary.Query(From, To, null, new string('x', 33))));
        (await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetCostSummary.Query(From, To, null, "ibm")))).Message.ShouldStartWith("provider must be one of");
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetCostSummary.Query(To, From, null, null)));
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetCostSummary.Query(From.AddDays(-367), From, null, null)));
    }

    [Fact]
    public async Task The_default_range_is_the_thirty_days_up_to_now()
    {
        var web = await CostInstanceAsync("web");
        var today = DateTime.UtcNow.Date;
        await EntryAsync(web, "fly", today, compute: 2m);
        await EntryAsync(web, "fly", today.AddDays(-29), compute: 3m);
        await EntryAsync(web, "fly", today.AddDays(-32), compute: 40m);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var summary = await Fixture.SendAsAsync(viewer, new GetCostSummary.Query(null, null, null, null));

        summary.TotalUsd.ShouldBe(5m);
        (summary.PeriodEnd - summary.PeriodStart).ShouldBe(TimeSpan.FromDays(30));
    }

    [Fact]
    public async Task An_instances_costs_list_its_entries_newest_first_with_their_sums()
    {
        var fleet = await FleetAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var costs = await Fixture.SendAsAsync(viewer, new GetInstanceCosts.Query(fleet.Web, From, To));

        (costs.InstanceId, costs.InstanceName, costs.Provider).ShouldBe((fleet.Web, "web", "fly"));
        // 1.316666 + 1.783333 = 3.099999; compute 2.066666; storage 0.5; network 0.033333; llm 0.5.
        (costs.TotalUsd, costs.ComputeUsd, costs.StorageUsd, costs.NetworkUsd, costs.LlmUsd).ShouldBe((3.10m, 2.07m, 0.50m, 0.03m, 0.50m));
        costs.Entries.Select(entry => (entry.PeriodStart, entry.ComputeUsd, entry.StorageUsd, entry.NetworkUsd, entry.LlmUsd, entry.TotalUsd, entry.Source)).ShouldBe(
        [
            (From.AddDays(1), 1.03m, 0.25m, 0m, 0.50m, 1.78m, "actual"),
            (From, 1.03m, 0.25m, 0.03m, 0m, 1.32m, "estimated"),
        ]);
        costs.Entries.ShouldAllBe(entry => entry.PeriodEnd == entry.PeriodStart.AddDays(1));
        (costs.PeriodStart, costs.PeriodEnd).ShouldBe((From, To));
    }

    [Fact]
    public async Task An_unknown_or_other_teams_instance_has_no_costs()
    {
        var fleet = await FleetAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceCosts.Query(fleet.Hidden, From, To)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceCosts.Query(Guid.CreateVersion7(), From, To)));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceCosts.Query(Guid.Empty, From, To)));
        (await Fixture.SendAsAsync(admin, new GetInstanceCosts.Query(fleet.Hidden, From, To))).TotalUsd.ShouldBe(5.00m);
    }

    [Fact]
    public async Task The_breakdown_gives_each_instance_its_share_of_the_total()
    {
        var fleet = await FleetAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var breakdown = await Fixture.SendAsAsync(viewer, new GetCostBreakdown.Query(From, To, null, null));

        breakdown.TotalUsd.ShouldBe(3.66m);
        // 3.099999 / 3.659332 = 84.71 %, 0.559333 / 3.659332 = 15.29 %.
        breakdown.Rows.ShouldBe(
        [
            new(fleet.Web, "web", "fly", "sea", 3.10m, 2.07m, 0.50m, 0.03m, 0.50m, 84.71m),
            new(fleet.Db, "db", "aws", "us-east-1", 0.56m, 0.51m, 0.05m, 0m, 0m, 15.29m),
        ]);
        (breakdown.PeriodStart, breakdown.PeriodEnd).ShouldBe((From, To));

        var aws = await Fixture.SendAsAsync(viewer, new GetCostBreakdown.Query(From, To, null, "aws"));
        aws.Rows.ShouldHaveSingleItem().PercentOfTotal.ShouldBe(100m);
        aws.TotalUsd.ShouldBe(0.56m);
        (await Fixture.SendAsAsync(viewer, new GetCostBreakdown.Query(From, To, fleet.Db, null))).Rows.ShouldHaveSingleItem().InstanceId.ShouldBe(fleet.Db);
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new GetCostBreakdown.Query(From, To, null, new string('a', 40))));
    }

    [Fact]
    public async Task Trends_give_every_day_of_the_range_and_compare_with_the_range_before()
    {
        var fleet = await FleetAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var trends = await Fixture.SendAsAsync(viewer, new GetCostTrends.Query(From, To, null, null));

        trends.Granularity.ShouldBe("day");
        trends.Points.ShouldBe(
        [
            new("2026-01-01", 1.32m, 1.03m, 0.25m, 0.03m, 0m),
            new("2026-01-02", 1.78m, 1.03m, 0.25m, 0m, 0.50m),
            new("2026-01-03", 0.56m, 0.51m, 0.05m, 0m, 0m),
        ]);
        trends.ByProvider.ShouldBe([new("2026-01-01", "fly", 1.32m), new("2026-01-02", "fly", 1.78m), new("2026-01-03", "aws", 0.56m)]);
        trends.ByTeam.ShouldBeEmpty();
        // The three days before spent 9 (Dec 31): (3.659332 − 9) / 9 = −59.34 %.
        trends.Summary.ShouldBe(new GetCostTrends.Summary(3.66m, 2.57m, 0.55m, 0.03m, 0.50m, From, To, 2, -59.34m));

        var aws = await Fixture.SendAsAsync(viewer, new GetCostTrends.Query(From, To, null, "aws"));
        aws.Summary.ChangePercent.ShouldBeNull();
        aws.Summary.InstanceCount.ShouldBe(1);
        aws.Points.Select(point => point.TotalUsd).ShouldBe([0m, 0m, 0.56m]);
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new GetCostTrends.Query(From, To, null, new string('a', 33))));
    }

    [Fact]
    public async Task Trends_per_team_are_of_the_teams_the_caller_sees()
    {
        var fleet = await FleetAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var trends = await Fixture.SendAsAsync(admin, new GetCostTrends.Query(From, To, null, null));

        trends.ByTeam.ShouldBe([new GetCostTrends.TeamPoint("2026-01-02", fleet.HiddenTeam, 5.00m)]);
        trends.Points[1].TotalUsd.ShouldBe(6.78m);
        trends.Summary.InstanceCount.ShouldBe(3);
    }

    [Fact]
    public async Task Pricing_lists_the_providers_of_the_cost_model_and_prefers_a_fetched_catalog()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var files = (await ProviderCatalog.ReadFilesAsync(new ConfigurationBuilder().Build(), CancellationToken.None)).ToDictionary(document => document.Id);
        var fetched = files["fly"] with { Name = "Fly.io (API)" };
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.provider_catalogs (provider, document, source, fetched_at)
            VALUES ('fly', CAST(@Document AS jsonb), 'api', '2026-02-01T00:00:00Z')
            ON CONFLICT (provider) DO UPDATE SET document = EXCLUDED.document, source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at
            """,
            new { Document = JsonSerializer.Serialize(fetched, ProviderCatalog.Json) });

        var pricing = await Fixture.SendAsAsync(viewer, new GetPricing.Query());

        pricing.Providers.Keys.Order(StringComparer.Ordinal).ShouldBe(["aws", "azure", "fly", "gcp", "northflank", "runpod"]);
        var fly = pricing.Providers["fly"];
        (fly.Name, fly.Source, fly.FetchedAt).ShouldBe(("Fly.io (API)", "api", new DateTime(2026, 2, 1, 0, 0, 0, DateTimeKind.Utc)));
        fly.ComputeTiers.Single(tier => tier.Id == "performance-1x").PricePerMonth.ShouldBe(31m);
        (fly.Storage.GbPerMonth, fly.Network.EgressGbFree, fly.Network.EgressGbPrice).ShouldBe((0.15m, 100m, 0.02m));
        var aws = pricing.Providers["aws"];
        (aws.Name.Length > 0, aws.Source).ShouldBe((true, "file"));
        aws.ComputeTiers.Select(tier => tier.Id).ShouldBe(["t3.micro", "t3.small", "t3.medium", "t3.large", "m5.xlarge", "m5.2xlarge"]);
        aws.ComputeTiers[1].ShouldBe(new GetPricing.Tier("t3.small", aws.ComputeTiers[1].Label, aws.ComputeTiers[1].Vcpu, aws.ComputeTiers[1].MemoryGb, 15.18m, 0.0208m));
    }
}
