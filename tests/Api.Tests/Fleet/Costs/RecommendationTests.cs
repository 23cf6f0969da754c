using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Costs;

public sealed class RecommendationTests(FleetFixture fixture) : FleetTest(fixture)
{
    private async Task UnderUsedAsync(Guid instance, int samples)
    {
        for (var i = 0; i < samples; i++)
        {
            await Fixture.ExecuteAsync(
                "INSERT INTO fleet.metrics (instance_id, recorded_at, cpu_percent, mem_used, mem_total) VALUES (@Id, now() - make_interval(mins => @I + 1), 5, 1, 4)",
                new { Id = instance, I = i });
        }
    }

    [Fact]
    public async Task Analysis_recommends_a_smaller_tier_which_can_be_dismissed()
    {
        var small = await SeedInstanceAsync("small-load", provider: "aws");
        await UnderUsedAsync(small, 30);
        await UnderUsedAsync(await SeedInstanceAsync("new-one"), 3);
        var client = await As(BaseRole.Operator);

        var analysis = await (await client.PostAsync("/api/v1/costs/recommendations/analyze", null)).ShouldBeJsonAsync();

        analysis.PropertyNames().ShouldBe(["analyzed", "generated", "skipped"]);
        (analysis.GetProperty("analyzed").GetInt32(), analysis.GetProperty("generated").GetInt32(), analysis.GetProperty("skipped").GetInt32()).ShouldBe((2, 1, 1));
        var viewer = await As(BaseRole.Viewer);
        var list = await (await viewer.GetAsync("/api/v1/costs/recommendations")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["recommendations", "data", "total", "totalSavingsUsdMo"]);
        var recommendation = list.GetProperty("recommendations").EnumerateArray().ShouldHaveSingleItem();
        recommendation.PropertyNames().ShouldBe(
        [
            "id", "instanceId", "instanceName", "provider", "currentTier", "suggestedTier", "currentUsdMo", "suggestedUsdMo", "savingsUsdMo", "avgCpuPercent", "avgMemPercent",
            "sampleCount", "confidence", "generatedAt", "dismissed", "dismissedAt",
        ]);
        (recommendation.GetProperty("currentTier").GetString(), recommendation.GetProperty("suggestedTier").GetString()).ShouldBe(("t3.large", "t3.medium"));
        recommendation.GetProperty("savingsUsdMo").GetDecimal().ShouldBe(30.37m); // 60.74 − 30.37
        recommendation.GetProperty("avgMemPercent").GetDouble().ShouldBe(25);
        recommendation.GetProperty("confidence").GetDouble().ShouldBe(0.3);
        list.GetProperty("totalSavingsUsdMo").GetDecimal().ShouldBe(30.37m);

        var id = recommendation.GetProperty("id").GetGuid();
        var dismissed = await (await client.PostAsync($"/api/v1/costs/recommendations/{id}/dismiss", null)).ShouldBeJsonAsync();
        dismissed.GetProperty("dismissed").GetBoolean().ShouldBeTrue();
        (await (await viewer.GetAsync("/api/v1/costs/recommendations")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(0);
        (await (await viewer.GetAsync("/api/v1/costs/recommendations?dismissed=true")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(1);
        await (await client.PostAsync($"/api/v1/costs/recommendations/{Guid.CreateVersion7()}/dismiss", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
