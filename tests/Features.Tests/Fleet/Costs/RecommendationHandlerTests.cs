using Capstan.Features.Fleet.Costs;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Costs;

/// <summary>Right-sizing through the pipeline: the analysis run on demand, the list (largest saving first, dismissed ones
/// on request) and dismissal, each limited to the instances the caller may see.</summary>
public sealed class RecommendationHandlerTests(FleetHandlerFixture fixture) : CostSliceHandlerTest(fixture)
{
    [Fact]
    public async Task The_analysis_offers_under_used_instances_the_tier_below_and_withdraws_stale_offers()
    {
        var idle = await CostInstanceAsync("idle", "fly");
        var busy = await CostInstanceAsync("busy", "aws");
        await CostInstanceAsync("stopped", "fly", status: "STOPPED");
        var stale = await RecommendationAsync(busy, "t3.medium", "t3.small", 30.37m, 15.18m);
        var now = DateTime.UtcNow;
        for (var i = 0; i < 20; i++)
        {
            await MetricAsync(idle, now.AddMinutes(-i - 1), cpu: 10, memUsed: 2, memTotal: 10);
            await MetricAsync(busy, now.AddMinutes(-i - 1), cpu: 80, memUsed: 2, memTotal: 10);
        }

        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var outcome = await Fixture.SendAsAsync(operatorUser, new AnalyzeRecommendations.Command());

        outcome.ShouldBe(new AnalyzeRecommendations.Response(2, 1, 1));
        var stored = (await Fixture.QueryAsync<(Guid Id, Guid InstanceId, string Current, string Suggested, decimal CurrentUsd, decimal SuggestedUsd, decimal Savings, double Confidence, long Samples)>(
            "SELECT id, instance_id, current_tier, suggested_tier, current_usd_mo, suggested_usd_mo, savings_usd_mo, confidence, sample_count FROM fleet.rightsizing_recommendations"))
            .ShouldHaveSingleItem();
        // fly's middle tier performance-1x (31.00) → shared-cpu-2x (7.76): 23.24 a month; 20 samples: confidence 0.2.
        (stored.InstanceId, stored.Current, stored.Suggested, stored.CurrentUsd, stored.SuggestedUsd, stored.Savings, stored.Confidence, stored.Samples)
            .ShouldBe((idle, "performance-1x", "shared-cpu-2x", 31m, 7.76m, 23.24m, 0.2, 20L));
        stored.Id.ShouldNotBe(stale);
        (await Fixture.QueryAsync<(string Analyzed, string Generated, string Skipped)>(
            "SELECT metadata->>'analyzed', metadata->>'generated', metadata->>'skipped' FROM identity.audit_log WHERE action = 'cost.recommendation.analyze'"))
            .ShouldBe([("2", "1", "1")]);
    }

    [Fact]
    public async Task Recommendations_list_the_largest_saving_first_and_leave_dismissed_ones_out_unless_asked()
    {
        var alpha = await CostInstanceAsync("alpha", "fly");
        var beta = await CostInstanceAsync("beta", "aws");
        var gamma = await CostInstanceAsync("gamma", "fly");
        var hidden = await CostInstanceAsync("hidden", "fly", OtherTeam);
        var small = await RecommendationAsync(alpha, "shared-cpu-2x", "shared-cpu-1x-512", 7.76m, 3.88m);
        var large = await RecommendationAsync(beta, "t3.medium", "t3.small", 30.37m, 15.18m);
        var dismissed = await RecommendationAsync(gamma, "performance-2x", "performance-1x", 62m, 31m, dismissed: true);
        await RecommendationAsync(hidden, "performance-4x", "performance-2x", 124m, 62m);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var open = await Fixture.SendAsAsync(viewer, new ListRecommendations.Query(false));

        open.Recommendations.Select(row => (row.Id, row.InstanceName, row.SavingsUsdMo)).ShouldBe([(large, "beta", 15.19m), (small, "alpha", 3.88m)]);
        (open.Total, open.TotalSavingsUsdMo).ShouldBe((2, 19.07m));
        open.Data.ShouldBe(open.Recommendations);
        var first = open.Recommendations[0];
        (first.InstanceId, first.Provider, first.CurrentTier, first.SuggestedTier, first.CurrentUsdMo, first.SuggestedUsdMo, first.AvgCpuPercent, first.AvgMemPercent, first.SampleCount,
            first.Confidence, first.Dismissed, first.DismissedAt).ShouldBe((beta, "aws", "t3.medium", "t3.small", 30.37m, 15.18m, 12.5, 20d, 40L, 0.4, false, (DateTime?)null));

        var all = await Fixture.SendAsAsync(viewer, new ListRecommendations.Query(true));
        all.Recommendations.Select(row => row.Id).ShouldBe([dismissed, large, small]);
        // The dismissed 31.00 does not count towards the saving.
        (all.Total, all.TotalSavingsUsdMo).ShouldBe((3, 19.07m));
    }

    [Fact]
    public async Task Recommendations_of_equal_saving_are_in_instance_name_order()
    {
        var zulu = await CostInstanceAsync("zulu", "fly");
        var alpha = await CostInstanceAsync("alpha", "fly");
        await RecommendationAsync(zulu, "performance-2x", "performance-1x", 62m, 31m);
        await RecommendationAsync(alpha, "performance-2x", "performance-1x", 62m, 31m);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Fixture.SendAsAsync(viewer, new ListRecommendations.Query(false))).Recommendations.Select(row => row.InstanceName).ShouldBe(["alpha", "zulu"]);
    }

    [Fact]
    public async Task Dismissing_keeps_who_dismissed_first_and_is_audited()
    {
        var web = await CostInstanceAsync("web", "fly");
        var id = await RecommendationAsync(web, "performance-2x", "performance-1x", 62m, 31m);
        var first = await Fixture.CreateUserAsync(BaseRole.Operator);
        var second = await Fixture.CreateUserAsync(BaseRole.Operator);

        var dismissed = await Fixture.SendAsAsync(first, new DismissRecommendation.Command(id));
        var again = await Fixture.SendAsAsync(second, new DismissRecommendation.Command(id));

        (dismissed.Id, dismissed.InstanceId, dismissed.InstanceName, dismissed.SuggestedTier, dismissed.SavingsUsdMo, dismissed.Dismissed).ShouldBe((id, web, "web", "performance-1x", 31m, true));
        dismissed.DismissedAt.ShouldNotBeNull();
        again.DismissedAt.ShouldBe(dismissed.DismissedAt);
        (await Fixture.ScalarAsync<Guid>("SELECT dismissed_by FROM fleet.rightsizing_recommendations WHERE id = @Id", new { Id = id })).ShouldBe(first.Id);
        (await AuditAsync("cost.recommendation.dismiss")).ShouldBe([$"instance {web} web", $"instance {web} web"]);
        (await Fixture.SendAsAsync(first, new ListRecommendations.Query(false))).Total.ShouldBe(0);
    }

    [Fact]
    public async Task Dismissing_an_unknown_or_hidden_recommendation_is_not_found()
    {
        var hidden = await CostInstanceAsync("hidden", "fly", OtherTeam);
        var id = await RecommendationAsync(hidden, "performance-2x", "performance-1x", 62m, 31m);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new DismissRecommendation.Command(id)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new DismissRecommendation.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new DismissRecommendation.Command(Guid.Empty)));

        (await Fixture.ScalarAsync<bool>("SELECT dismissed FROM fleet.rightsizing_recommendations WHERE id = @Id", new { Id = id })).ShouldBeFalse();
    }
}
