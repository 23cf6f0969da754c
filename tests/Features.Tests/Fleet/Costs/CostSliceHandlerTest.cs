namespace Capstan.Features.Tests.Fleet.Costs;

/// <summary>Arrange-helpers of the cost slices' handler tests: instances of any provider and team, daily cost entries,
/// budgets and right-sizing recommendations written straight to the database.</summary>
public abstract class CostSliceHandlerTest(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    /// <summary>A team the test callers are not in (callers of <c>SendAsAsync</c> belong to no team).</summary>
    protected static readonly Guid OtherTeam = Guid.CreateVersion7();

    protected async Task<Guid> CostInstanceAsync(
        string name, string provider = "fly", Guid? team = null, string? region = null, string status = "RUNNING", DateTime? lastHeartbeat = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.instances (id, name, provider, region, status, team_id, last_heartbeat_at)
            VALUES (@Id, @Name, @Provider, @Region, @Status, @Team, @LastHeartbeat)
            """,
            new { Id = id, Name = name, Provider = provider, Region = region, Status = status, Team = team, LastHeartbeat = lastHeartbeat });
        return id;
    }

    /// <summary>One day's entry of <paramref name="instance"/> starting at <paramref name="day"/>; the total is the sum of the parts.</summary>
    protected Task EntryAsync(
        Guid instance, string provider, DateTime day, decimal compute = 0, decimal storage = 0, decimal network = 0, decimal llm = 0, string source = "estimated") =>
        Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, compute_usd, storage_usd, network_usd, llm_usd, total_usd, source)
            VALUES (platform.uuid_v7(), @Instance, @Provider, @Day, @Day + interval '1 day', @Compute, @Storage, @Network, @Llm, @Compute + @Storage + @Network + @Llm, @Source)
            """,
            new { Instance = instance, Provider = provider, Day = DateTime.SpecifyKind(day, DateTimeKind.Utc), Compute = compute, Storage = storage, Network = network, Llm = llm, Source = source });

    /// <summary>A budget row without an alert rule (created <paramref name="createdAt"/>).</summary>
    protected async Task<Guid> BudgetAsync(
        string name, decimal amount, string period, Guid? instance = null, string? provider = null, decimal threshold = 0.8m, DateTime? createdAt = null, bool alertSent = false,
        Guid? rule = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.budgets (id, name, amount_usd, period, instance_id, provider, alert_threshold, alert_sent, alert_rule_id, created_at, updated_at)
            VALUES (@Id, @Name, @Amount, @Period, @Instance, @Provider, @Threshold, @AlertSent, @Rule, COALESCE(@CreatedAt, now()), COALESCE(@CreatedAt, now()))
            """,
            new { Id = id, Name = name, Amount = amount, Period = period, Instance = instance, Provider = provider, Threshold = threshold, AlertSent = alertSent, Rule = rule, CreatedAt = createdAt });
        return id;
    }

    protected async Task<Guid> RecommendationAsync(Guid instance, string current, string suggested, decimal currentUsd, decimal suggestedUsd, bool dismissed = false)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.rightsizing_recommendations
                (id, instance_id, current_tier, suggested_tier, current_usd_mo, suggested_usd_mo, savings_usd_mo, avg_cpu_percent, avg_mem_percent, sample_count, confidence, dismissed)
            VALUES (@Id, @Instance, @Current, @Suggested, @CurrentUsd, @SuggestedUsd, @CurrentUsd - @SuggestedUsd, 12.5, 20, 40, 0.4, @Dismissed)
            """,
            new { Id = id, Instance = instance, Current = current, Suggested = suggested, CurrentUsd = currentUsd, SuggestedUsd = suggestedUsd, Dismissed = dismissed });
        return id;
    }

    /// <summary>The audit rows of <paramref name="action"/>, as "resource_type resource_id resource_name".</summary>
    protected Task<List<string>> AuditAsync(string action) =>
        Fixture.QueryAsync<string>(
            "SELECT concat_ws(' ', resource_type, resource_id, resource_name) FROM identity.audit_log WHERE action = @Action ORDER BY occurred_at", new { Action = action });
}
