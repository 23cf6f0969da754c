using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Costs;

public sealed class CostReportTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly DateTime Today = DateTime.UtcNow.Date;

    private Task EntryAsync(Guid instance, string provider, DateTime day, decimal compute, decimal storage, decimal network, string source = "estimated") =>
        Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, compute_usd, storage_usd, network_usd, total_usd, source)
            VALUES (platform.uuid_v7(), @Instance, @Provider, @Day, @Day + interval '1 day', @Compute, @Storage, @Network, @Compute + @Storage + @Network, @Source)
            """,
            new { Instance = instance, Provider = provider, Day = day, Compute = compute, Storage = storage, Network = network, Source = source });

    private async Task<(Guid Web, Guid Db)> SeedAsync()
    {
        var web = await SeedInstanceAsync("web", provider: "fly");
        var db = await SeedInstanceAsync("db", provider: "aws", region: "us-east-1");
        await EntryAsync(web, "fly", Today.AddDays(-2), 1m, 0.25m, 0m);
        await EntryAsync(web, "fly", Today.AddDays(-1), 1m, 0.25m, 0.5m);
        await EntryAsync(db, "aws", Today.AddDays(-1), 2m, 0.5m, 0m);
        await EntryAsync(db, "aws", Today.AddDays(-40), 100m, 0m, 0m);
        return (web, db);
    }

    [Fact]
    public async Task The_summary_adds_up_the_range_by_provider_and_instance()
    {
        var (web, db) = await SeedAsync();
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/costs/summary")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["totalUsd", "computeUsd", "storageUsd", "networkUsd", "llmUsd", "byProvider", "byInstance", "periodStart", "periodEnd", "currency"]);
        body.GetProperty("totalUsd").GetDecimal().ShouldBe(5.5m); // 1.25 + 1.75 + 2.5; the 40-day-old entry is outside
        body.GetProperty("computeUsd").GetDecimal().ShouldBe(4m);
        body.GetProperty("networkUsd").GetDecimal().ShouldBe(0.5m);
        body.GetProperty("byProvider").GetProperty("fly").GetDecimal().ShouldBe(3m);
        body.GetProperty("byProvider").GetProperty("aws").GetDecimal().ShouldBe(2.5m);
        var first = body.GetProperty("byInstance")[0];
        first.PropertyNames().ShouldBe(["instanceId", "instanceName", "provider", "totalUsd"]);
        first.GetProperty("instanceId").GetGuid().ShouldBe(web);
        body.GetProperty("byInstance")[1].GetProperty("instanceId").GetGuid().ShouldBe(db);
        var filtered = await (await client.GetAsync("/api/v1/costs/summary?provider=aws")).ShouldBeJsonAsync();
        filtered.GetProperty("totalUsd").GetDecimal().ShouldBe(2.5m);
        var wide = await (await client.GetAsync($"/api/v1/costs/summary?instanceId={db}&from={Today.AddDays(-60):yyyy-MM-dd}")).ShouldBeJsonAsync();
        wide.GetProperty("totalUsd").GetDecimal().ShouldBe(102.5m);
    }

    [Fact]
    public async Task Trends_have_a_point_per_day_and_compare_with_the_range_before()
    {
        await SeedAsync();
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/costs/trends?from={Today.AddDays(-3):yyyy-MM-dd}&to={Today:yyyy-MM-dd}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["granularity", "points", "byProvider", "byTeam", "summary"]);
        body.GetProperty("points").EnumerateArray().Select(point => (point.GetProperty("date").GetString(), point.GetProperty("totalUsd").GetDecimal())).ShouldBe(
        [
            (Today.AddDays(-3).ToString("yyyy-MM-dd"), 0m), (Today.AddDays(-2).ToString("yyyy-MM-dd"), 1.25m), (Today.AddDays(-1).ToString("yyyy-MM-dd"), 4.25m),
        ]);
        body.GetProperty("points")[0].PropertyNames().ShouldBe(["date", "totalUsd", "computeUsd", "storageUsd", "networkUsd", "llmUsd"]);
        body.GetProperty("byProvider").GetArrayLength().ShouldBe(3);
        var summary = body.GetProperty("summary");
        summary.PropertyNames().ShouldBe(["totalUsd", "computeUsd", "storageUsd", "networkUsd", "llmUsd", "periodStart", "periodEnd", "instanceCount", "changePercent"]);
        summary.GetProperty("totalUsd").GetDecimal().ShouldBe(5.5m);
        summary.GetProperty("instanceCount").GetInt32().ShouldBe(2);
        summary.GetProperty("changePercent").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task The_breakdown_splits_components_and_shares_per_instance()
    {
        var (web, _) = await SeedAsync();
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/costs/breakdown")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["rows", "totalUsd", "periodStart", "periodEnd"]);
        var row = body.GetProperty("rows")[0];
        row.PropertyNames().ShouldBe(["instanceId", "instanceName", "provider", "region", "totalUsd", "computeUsd", "storageUsd", "networkUsd", "llmUsd", "percentOfTotal"]);
        row.GetProperty("instanceId").GetGuid().ShouldBe(web);
        row.GetProperty("percentOfTotal").GetDecimal().ShouldBe(54.55m); // 3 of 5.5
        body.GetProperty("rows")[1].GetProperty("percentOfTotal").GetDecimal().ShouldBe(45.45m);
    }

    [Fact]
    public async Task An_instances_costs_list_its_entries_newest_first()
    {
        var (web, _) = await SeedAsync();
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/costs/instances/{web}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(
            ["instanceId", "instanceName", "provider", "totalUsd", "computeUsd", "storageUsd", "networkUsd", "llmUsd", "entries", "periodStart", "periodEnd"]);
        body.GetProperty("totalUsd").GetDecimal().ShouldBe(3m);
        body.GetProperty("entries").GetArrayLength().ShouldBe(2);
        body.GetProperty("entries")[0].PropertyNames().ShouldBe(["id", "periodStart", "periodEnd", "computeUsd", "storageUsd", "networkUsd", "llmUsd", "totalUsd", "source"]);
        body.GetProperty("entries")[0].GetProperty("periodStart").GetDateTime().ShouldBe(Today.AddDays(-1));
        await (await client.GetAsync($"/api/v1/costs/instances/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync("/api/v1/costs/instances/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Instances_of_other_teams_are_not_counted_or_shown()
    {
        var hidden = await SeedInstanceAsync("hidden", teamId: Guid.CreateVersion7());
        await EntryAsync(hidden, "fly", Today.AddDays(-1), 7m, 0m, 0m);
        var client = await As(BaseRole.Viewer);

        (await (await client.GetAsync("/api/v1/costs/summary")).ShouldBeJsonAsync()).GetProperty("totalUsd").GetDecimal().ShouldBe(0m);
        await (await client.GetAsync($"/api/v1/costs/instances/{hidden}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        var admin = await As(BaseRole.Admin);
        (await (await admin.GetAsync("/api/v1/costs/summary")).ShouldBeJsonAsync()).GetProperty("totalUsd").GetDecimal().ShouldBe(7m);
    }

    [Theory]
    [InlineData("/api/v1/costs/summary?from=2026-01-10&to=2026-01-01", "from")]
    [InlineData("/api/v1/costs/trends?from=2024-01-01&to=2026-01-01", "from")]
    [InlineData("/api/v1/costs/breakdown?provider=mainframe", "provider")]
    [InlineData("/api/v1/costs/idle?thresholdHours=0", "thresholdHours")]
    public async Task Bad_ranges_and_filters_are_400(string path, string field)
    {
        var client = await As(BaseRole.Viewer);

        var error = await (await client.GetAsync(path)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        error.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Idle_instances_are_those_silent_past_the_threshold_with_their_monthly_cost()
    {
        var silent = await SeedInstanceAsync("silent");
        await SeedInstanceAsync("chatty");
        await SeedInstanceAsync("stopped-long-ago", status: "DESTROYED");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET last_heartbeat_at = now() - interval '72 hours' WHERE id = @Id", new { Id = silent });
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET last_heartbeat_at = now() - interval '1 hour' WHERE name <> 'silent'");
        await EntryAsync(silent, "fly", Today.AddDays(-1), 1m, 0.2m, 0m);
        var client = await As(BaseRole.Viewer);

        var idle = await (await client.GetAsync("/api/v1/costs/idle")).ShouldBeJsonAsync();

        idle.PropertyNames().ShouldBe(["instances", "thresholdHours", "total"]);
        var instance = idle.GetProperty("instances").EnumerateArray().ShouldHaveSingleItem();
        instance.PropertyNames().ShouldBe(["instanceId", "instanceName", "provider", "region", "status", "lastActivityAt", "idleSinceHours", "estimatedMonthlyCost"]);
        instance.GetProperty("instanceId").GetGuid().ShouldBe(silent);
        instance.GetProperty("idleSinceHours").GetDouble().ShouldBe(72, 0.2);
        instance.GetProperty("estimatedMonthlyCost").GetDecimal().ShouldBe(36m); // 1.20 × 30
        (await (await client.GetAsync("/api/v1/costs/idle?thresholdHours=100")).ShouldBeJsonAsync()).GetProperty("instances").GetArrayLength().ShouldBe(0);

        var report = await (await client.GetAsync("/api/v1/costs/idle-instances")).ShouldBeJsonAsync();
        report.PropertyNames().ShouldBe(["instances", "totalWastedUsdMo"]);
        report.GetProperty("instances")[0].PropertyNames().ShouldBe(
            ["instanceId", "instanceName", "provider", "region", "status", "idleSinceDays", "wastedUsdMo", "avgCpuPercent", "avgMemPercent"]);
        report.GetProperty("instances")[0].GetProperty("idleSinceDays").GetDouble().ShouldBe(3);
        report.GetProperty("totalWastedUsdMo").GetDecimal().ShouldBe(36m);
    }

    [Fact]
    public async Task Pricing_serves_the_cost_models_price_tables()
    {
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/costs/pricing")).ShouldBeJsonAsync();

        var providers = body.GetProperty("providers");
        providers.PropertyNames().ShouldBe(["aws", "azure", "fly", "gcp", "northflank", "runpod"]);
        var fly = providers.GetProperty("fly");
        fly.PropertyNames().ShouldBe(["name", "computeTiers", "storage", "network", "source", "fetchedAt"]);
        fly.GetProperty("computeTiers")[0].PropertyNames().ShouldBe(["id", "label", "vcpu", "memoryGb", "pricePerMonth", "pricePerHour"]);
        fly.GetProperty("computeTiers")[0].GetProperty("pricePerMonth").GetDecimal().ShouldBe(1.94m);
        fly.GetProperty("storage").GetProperty("gbPerMonth").GetDecimal().ShouldBe(0.15m);
        fly.GetProperty("network").GetProperty("egressGbFree").GetDecimal().ShouldBe(100m);
    }
}
