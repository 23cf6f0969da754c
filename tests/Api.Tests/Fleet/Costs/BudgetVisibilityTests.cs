using System.Net;
using System.Text;
using Capstan.Features.Fleet.Costs;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Fleet.Costs;

/// <summary>Team scoping of budgets: one bound to an instance of a team the caller is not in is absent from lists and
/// budget alerts and answers 404 by id; fleet-wide and provider-wide budgets are visible to all.</summary>
public sealed class BudgetVisibilityTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<Guid> CreateAsync(HttpClient client, string name, Guid? instanceId, string? provider = null) =>
        (await (await client.PostJsonAsync("/api/v1/costs/budgets", new { name, amountUsd = 5, period = "DAILY", instanceId, provider })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("id").GetGuid();

    private static async Task<string?[]> NamesAsync(HttpClient client, string path, string property) =>
        [.. (await (await client.GetAsync(path)).ShouldBeJsonAsync()).GetProperty(property).EnumerateArray()
            .Select(item => item.GetProperty(property == "budgets" ? "name" : "budgetName").GetString()).Order()];

    [Fact]
    public async Task A_budget_on_another_teams_instance_is_invisible_to_outsiders()
    {
        var team = Guid.CreateVersion7();
        var shared = await SeedInstanceAsync("shared");
        var teamOnly = await SeedInstanceAsync("team-only", teamId: team);
        var admin = await As(BaseRole.Admin);
        var (outsider, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        var (member, memberUser) = await Fixture.ClientAsAsync(BaseRole.Operator);
        await JoinTeamAsync(memberUser, team);
        var hidden = await CreateAsync(admin, "team budget", teamOnly);
        await CreateAsync(admin, "shared budget", shared);
        await CreateAsync(admin, "fleet budget", null);
        await CreateAsync(admin, "fly budget", null, "fly");

        (await NamesAsync(outsider, "/api/v1/costs/budgets", "budgets")).ShouldBe(["fleet budget", "fly budget", "shared budget"]);
        (await NamesAsync(member, "/api/v1/costs/budgets", "budgets")).ShouldBe(["fleet budget", "fly budget", "shared budget", "team budget"]);
        (await NamesAsync(admin, "/api/v1/costs/budgets", "budgets")).ShouldBe(["fleet budget", "fly budget", "shared budget", "team budget"]);
        (await NamesAsync(outsider, $"/api/v1/costs/budgets?instanceId={teamOnly}", "budgets")).ShouldBeEmpty();
        (await (await member.GetAsync($"/api/v1/costs/budgets/{hidden}")).ShouldBeJsonAsync()).GetProperty("name").GetString().ShouldBe("team budget");

        foreach (var id in new[] { hidden, Guid.CreateVersion7() })
        {
            (await (await outsider.GetAsync($"/api/v1/costs/budgets/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString()
                .ShouldBe($"Budget '{id}' not found");
            await (await outsider.PutAsync($"/api/v1/costs/budgets/{id}", Json("""{"amountUsd": 1000}"""))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await outsider.PatchAsync($"/api/v1/costs/budgets/{id}", Json("""{"name": "mine"}"""))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await outsider.DeleteAsync($"/api/v1/costs/budgets/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        }

        var kept = await (await admin.GetAsync($"/api/v1/costs/budgets/{hidden}")).ShouldBeJsonAsync();
        (kept.GetProperty("name").GetString(), kept.GetProperty("amountUsd").GetDecimal()).ShouldBe(("team budget", 5m));

        // Creating one on that instance, or moving a visible one onto it, is a 404 like an unknown instance.
        await (await outsider.PostJsonAsync("/api/v1/costs/budgets", new { name = "sneak", amountUsd = 5, period = "DAILY", instanceId = teamOnly }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
        var own = await CreateAsync(outsider, "own", shared);
        await (await outsider.PatchAsync($"/api/v1/costs/budgets/{own}", Json($$"""{"instanceId": "{{teamOnly}}"}"""))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await CreateAsync(member, "member budget", teamOnly)).ShouldNotBe(Guid.Empty);
    }

    [Fact]
    public async Task Budget_alerts_list_only_visible_budgets()
    {
        var team = Guid.CreateVersion7();
        var shared = await SeedInstanceAsync("shared");
        var teamOnly = await SeedInstanceAsync("team-only", teamId: team);
        var admin = await As(BaseRole.Admin);
        var (outsider, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await CreateAsync(admin, "team budget", teamOnly);
        await CreateAsync(admin, "shared budget", shared);
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, total_usd, source) SELECT platform.uuid_v7(), id, 'fly', @Day, @Day + interval '1 day', 6, 'actual' FROM fleet.instances",
            new { Day = DateTime.UtcNow.Date });
        (await Fixture.Services.GetRequiredService<CostAnalysisJob>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        (await NamesAsync(outsider, "/api/v1/costs/alerts", "alerts")).ShouldBe(["shared budget"]);
        (await NamesAsync(admin, "/api/v1/costs/alerts", "alerts")).ShouldBe(["shared budget", "team budget"]);
    }
}
