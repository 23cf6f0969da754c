using System.Net;
using System.Text;
using Capstan.Features.Fleet.Costs;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Fleet.Costs;

public sealed class BudgetTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] BudgetFields =
    [
        "id", "name", "amountUsd", "period", "instanceId", "provider", "alertThreshold", "alertSent", "alertRuleId", "createdBy", "createdAt", "updatedAt",
        "periodStart", "spentUsd", "spentPercent", "currentSpendUsd", "percentUsed", "remainingUsd", "status",
    ];

    private Task SpendAsync(Guid instance, decimal usd) =>
        Fixture.ExecuteAsync(
            "INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, total_usd, source) VALUES (platform.uuid_v7(), @Id, 'fly', @Day, @Day + interval '1 day', @Usd, 'actual')",
            new { Id = instance, Day = DateTime.UtcNow.Date, Usd = usd });

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task An_operator_creates_a_budget_that_reports_its_spend_and_status()
    {
        var instance = await SeedInstanceAsync("web");
        await SpendAsync(instance, 9m);
        var client = await As(BaseRole.Operator);

        var response = await client.PostJsonAsync("/api/v1/costs/budgets", new { name = "web daily", amountUsd = 10, period = "daily", instanceId = instance });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(BudgetFields);
        body.GetProperty("period").GetString().ShouldBe("DAILY");
        body.GetProperty("alertThreshold").GetDecimal().ShouldBe(0.8m);
        body.GetProperty("spentUsd").GetDecimal().ShouldBe(9m);
        body.GetProperty("spentPercent").GetDecimal().ShouldBe(90m);
        body.GetProperty("remainingUsd").GetDecimal().ShouldBe(1m);
        body.GetProperty("status").GetString().ShouldBe("warning");
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/costs/budgets/{body.GetProperty("id").GetGuid()}");
        var rule = body.GetProperty("alertRuleId").GetGuid();
        (await Fixture.ScalarAsync<string>("SELECT type FROM fleet.alert_rules WHERE id = @Id", new { Id = rule })).ShouldBe("COST");
    }

    [Theory]
    [InlineData("{\"amountUsd\":10,\"period\":\"DAILY\"}", "name")]
    [InlineData("{\"name\":\"b\",\"period\":\"DAILY\"}", "amountUsd")]
    [InlineData("{\"name\":\"b\",\"amountUsd\":0,\"period\":\"DAILY\"}", "amountUsd")]
    [InlineData("{\"name\":\"b\",\"amountUsd\":10}", "period")]
    [InlineData("{\"name\":\"b\",\"amountUsd\":10,\"period\":\"HOURLY\"}", "period")]
    [InlineData("{\"name\":\"b\",\"amountUsd\":10,\"period\":\"DAILY\",\"provider\":\"mainframe\"}", "provider")]
    [InlineData("{\"name\":\"b\",\"amountUsd\":10,\"period\":\"DAILY\",\"alertThreshold\":1.5}", "alertThreshold")]
    [InlineData("{\"name\":\"b\",\"amountUsd\":\"ten\",\"period\":\"DAILY\"}", "amountUsd")]
    public async Task Bad_budgets_are_400(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var error = await (await client.PostAsync("/api/v1/costs/budgets", Json(json))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_budget_for_an_unknown_instance_is_404()
    {
        var client = await As(BaseRole.Operator);

        await (await client.PostJsonAsync("/api/v1/costs/budgets", new { name = "x", amountUsd = 5, period = "MONTHLY", instanceId = Guid.CreateVersion7() }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Budgets_are_listed_read_changed_with_put_or_patch_and_deleted()
    {
        var instance = await SeedInstanceAsync("api");
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/costs/budgets", new { name = "api", amountUsd = 100, period = "MONTHLY", instanceId = instance, provider = "fly" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await client.PostJsonAsync("/api/v1/costs/budgets", new { name = "fleet", amountUsd = 1000, period = "WEEKLY" });
        var viewer = await As(BaseRole.Viewer);

        var list = await (await viewer.GetAsync("/api/v1/costs/budgets")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["budgets", "data", "total"]);
        list.GetProperty("total").GetInt32().ShouldBe(2);
        (await (await viewer.GetAsync($"/api/v1/costs/budgets?instanceId={instance}")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(1);
        (await (await viewer.GetAsync($"/api/v1/costs/budgets/{id}")).ShouldBeJsonAsync()).PropertyNames().ShouldBe(BudgetFields);

        var put = await (await client.PutAsync($"/api/v1/costs/budgets/{id}", Json("{\"amountUsd\":50,\"alertThreshold\":0.5}"))).ShouldBeJsonAsync();
        (put.GetProperty("amountUsd").GetDecimal(), put.GetProperty("alertThreshold").GetDecimal(), put.GetProperty("name").GetString(), put.GetProperty("instanceId").GetGuid())
            .ShouldBe((50m, 0.5m, "api", instance));
        var patch = await (await client.PatchAsync($"/api/v1/costs/budgets/{id}", Json("{\"instanceId\":null,\"provider\":null,\"period\":\"weekly\"}"))).ShouldBeJsonAsync();
        patch.GetProperty("instanceId").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        patch.GetProperty("provider").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        patch.GetProperty("period").GetString().ShouldBe("WEEKLY");
        (await Fixture.ScalarAsync<string>("SELECT conditions::text FROM fleet.alert_rules WHERE id = (SELECT alert_rule_id FROM fleet.budgets WHERE id = @Id)", new { Id = id }))
            .ShouldBe("{\"period\": \"weekly\", \"budget_usd\": 50.00, \"threshold_percent\": 50.0000}");
        await (await client.PatchAsync($"/api/v1/costs/budgets/{id}", Json("{\"period\":\"yearly\"}"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.PutAsync($"/api/v1/costs/budgets/{Guid.CreateVersion7()}", Json("{\"amountUsd\":5}"))).ShouldBeErrorAsync(HttpStatusCode.NotFound);

        var deleted = await (await client.DeleteAsync($"/api/v1/costs/budgets/{id}")).ShouldBeJsonAsync();
        deleted.PropertyNames().ShouldBe(["message", "id", "name"]);
        deleted.GetProperty("message").GetString().ShouldBe("Budget deleted");
        await (await viewer.GetAsync($"/api/v1/costs/budgets/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/api/v1/costs/budgets/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alert_rules")).ShouldBe(1);
    }

    [Fact]
    public async Task A_breached_budget_raises_a_cost_alert_on_the_next_cost_analysis()
    {
        var instance = await SeedInstanceAsync("hungry");
        var client = await As(BaseRole.Operator);
        var budget = await (await client.PostJsonAsync("/api/v1/costs/budgets", new { name = "hungry", amountUsd = 5, period = "DAILY", instanceId = instance }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        await SpendAsync(instance, 6m);

        (await Fixture.Services.GetRequiredService<CostAnalysisJob>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        var alerts = await (await client.GetAsync("/api/v1/alerts")).ShouldBeJsonAsync();
        var alert = alerts.GetProperty("alerts").EnumerateArray().ShouldHaveSingleItem();
        alert.GetProperty("title").GetString().ShouldBe("DAILY budget 'hungry' exceeded");
        alert.GetProperty("severity").GetString().ShouldBe("HIGH");
        var costAlerts = await (await client.GetAsync("/api/v1/costs/alerts")).ShouldBeJsonAsync();
        costAlerts.PropertyNames().ShouldBe(["alerts", "total"]);
        var costAlert = costAlerts.GetProperty("alerts").EnumerateArray().ShouldHaveSingleItem();
        costAlert.PropertyNames().ShouldBe(["id", "budgetId", "budgetName", "amountUsd", "spentUsd", "spentPercent", "period", "status", "alertId", "firedAt"]);
        costAlert.GetProperty("id").GetString().ShouldBe($"alert-{budget.GetProperty("id").GetGuid()}");
        costAlert.GetProperty("alertId").GetGuid().ShouldBe(alert.GetProperty("id").GetGuid());
        costAlert.GetProperty("spentPercent").GetDecimal().ShouldBe(120m);
        (await (await client.GetAsync($"/api/v1/costs/budgets/{budget.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync()).GetProperty("alertSent").GetBoolean().ShouldBeTrue();
        // The day's recorded actual cost stands; the analysis does not replace it with an estimate.
        (await Fixture.ScalarAsync<decimal>("SELECT sum(total_usd) FROM fleet.cost_entries")).ShouldBe(6m);
    }
}
