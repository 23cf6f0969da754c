using Capstan.Features.Fleet.Costs;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Costs;

/// <summary>Budgets through the pipeline: their spend in the current day, week or month and its status, the changes PUT
/// and PATCH make (with the budget's COST alert rule kept in step), deletion, and the budget alerts list.</summary>
public sealed class BudgetHandlerTests(FleetHandlerFixture fixture) : CostSliceHandlerTest(fixture)
{
    private static DateTime Today => DateTime.UtcNow.Date;

    private static DateTime MonthStart => new(Today.Year, Today.Month, 1, 0, 0, 0, DateTimeKind.Utc);

    private static DateTime WeekStart => Today.AddDays(-(int)Today.DayOfWeek);

    private sealed record Spend(Guid Web, Guid Db, Guid Hidden);

    /// <summary>Today web (fly) spends 85 and db (aws) 10; 40 days ago web spent 1000 (before every current period).</summary>
    private async Task<Spend> SpendAsync()
    {
        var web = await CostInstanceAsync("web", "fly");
        var db = await CostInstanceAsync("db", "aws");
        var hidden = await CostInstanceAsync("hidden", "fly", OtherTeam);
        await EntryAsync(web, "fly", Today, compute: 80m, storage: 5m);
        await EntryAsync(db, "aws", Today, compute: 10m);
        await EntryAsync(web, "fly", Today.AddDays(-40), compute: 1000m);
        return new Spend(web, db, hidden);
    }

    private sealed record Stored
    {
        public string Name { get; init; } = string.Empty;

        public decimal AmountUsd { get; init; }

        public string Period { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string? Provider { get; init; }

        public decimal AlertThreshold { get; init; }

        public bool AlertSent { get; init; }

        public Guid? AlertRuleId { get; init; }
    }

    private async Task<Stored> StoredAsync(Guid id) =>
        (await Fixture.QueryAsync<Stored>(
            "SELECT name, amount_usd, period, instance_id, provider, alert_threshold, alert_sent, alert_rule_id FROM fleet.budgets WHERE id = @Id", new { Id = id })).Single();

    private sealed record Rule
    {
        public string Name { get; init; } = string.Empty;

        public string Type { get; init; } = string.Empty;

        public bool Enabled { get; init; }

        public Guid? InstanceId { get; init; }

        public decimal BudgetUsd { get; init; }

        public string Period { get; init; } = string.Empty;

        public decimal ThresholdPercent { get; init; }
    }

    private async Task<Rule> RuleOfAsync(Guid? id) =>
        (await Fixture.QueryAsync<Rule>(
            """
            SELECT name, type, enabled, instance_id, (conditions->>'budget_usd')::numeric AS budget_usd, conditions->>'period' AS period,
                   (conditions->>'threshold_percent')::numeric AS threshold_percent
            FROM fleet.alert_rules WHERE id = @Id
            """,
            new { Id = id })).Single();

    private static BudgetChange Change(Guid id, string? name = null, decimal? amount = null, string? period = null, decimal? threshold = null) =>
        new(id, name, amount, period, false, null, false, null, threshold);

    [Fact]
    public async Task Budgets_list_newest_first_with_their_periods_spend_and_status()
    {
        var spend = await SpendAsync();
        var web = await BudgetAsync("web monthly", 100m, "MONTHLY", instance: spend.Web, createdAt: DateTime.UtcNow.AddHours(-3));
        var fleet = await BudgetAsync("fleet daily", 90m, "DAILY", createdAt: DateTime.UtcNow.AddHours(-2));
        var aws = await BudgetAsync("aws weekly", 50m, "WEEKLY", provider: "aws", threshold: 0.5m, createdAt: DateTime.UtcNow.AddHours(-1));
        await BudgetAsync("hidden", 10m, "MONTHLY", instance: spend.Hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var list = await Fixture.SendAsAsync(viewer, new ListBudgets.Query(null, null));

        list.Total.ShouldBe(3);
        list.Data.ShouldBe(list.Budgets);
        list.Budgets.Select(budget => (budget.Id, budget.PeriodStart, budget.SpentUsd, budget.SpentPercent, budget.CurrentSpendUsd, budget.PercentUsed, budget.RemainingUsd, budget.Status)).ShouldBe(
        [
            // 10 of 50 this week: 20 %, under the 50 % threshold.
            (aws, WeekStart, 10m, 20m, 10m, 20m, 40m, "ok"),
            // 85 + 10 of 90 today: 105.56 %.
            (fleet, Today, 95m, 105.56m, 95m, 105.56m, 0m, "exceeded"),
            // 85 of 100 this month: at the 80 % threshold.
            (web, MonthStart, 85m, 85m, 85m, 85m, 15m, "warning"),
        ]);
        var first = list.Budgets[0];
        (first.Name, first.AmountUsd, first.Period, first.InstanceId, first.Provider, first.AlertThreshold, first.AlertSent, first.AlertRuleId)
            .ShouldBe(("aws weekly", 50m, "WEEKLY", (Guid?)null, "aws", 0.5m, false, (Guid?)null));
    }

    [Fact]
    public async Task Budgets_filter_by_status_and_instance_and_admins_see_other_teams_budgets()
    {
        var spend = await SpendAsync();
        var web = await BudgetAsync("web monthly", 100m, "MONTHLY", instance: spend.Web);
        var fleet = await BudgetAsync("fleet daily", 90m, "DAILY");
        var hidden = await BudgetAsync("hidden", 10m, "MONTHLY", instance: spend.Hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Fixture.SendAsAsync(viewer, new ListBudgets.Query(null, "warning"))).Budgets.ShouldHaveSingleItem().Id.ShouldBe(web);
        (await Fixture.SendAsAsync(viewer, new ListBudgets.Query(null, "exceeded"))).Budgets.ShouldHaveSingleItem().Id.ShouldBe(fleet);
        (await Fixture.SendAsAsync(viewer, new ListBudgets.Query(spend.Web, null))).Budgets.ShouldHaveSingleItem().Id.ShouldBe(web);
        (await Fixture.SendAsAsync(viewer, new ListBudgets.Query(spend.Hidden, null))).Total.ShouldBe(0);
        (await Fixture.SendAsAsync(admin, new ListBudgets.Query(spend.Hidden, null))).Budgets.ShouldHaveSingleItem().Id.ShouldBe(hidden);
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ListBudgets.Query(null, "over")));
    }

    [Fact]
    public async Task A_changed_budget_moves_its_rule_with_it_and_may_alert_again()
    {
        var spend = await SpendAsync();
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var created = await Fixture.SendAsAsync(operatorUser, new CreateBudget.Command("web monthly", 100m, "MONTHLY", spend.Web, null, null));
        await Fixture.ExecuteAsync("UPDATE fleet.budgets SET alert_sent = true WHERE id = @Id", new { created.Id });

        var updated = await Fixture.SendAsAsync(operatorUser, new UpdateBudget.Command(Change(created.Id, amount: 200m, period: "weekly", threshold: 0.5m)));

        // 85 this week of 200: 42.5 %, under the 100 the 50 % threshold makes.
        (updated.Name, updated.AmountUsd, updated.Period, updated.InstanceId, updated.AlertThreshold, updated.AlertSent, updated.AlertRuleId)
            .ShouldBe(("web monthly", 200m, "WEEKLY", (Guid?)spend.Web, 0.5m, false, created.AlertRuleId));
        (updated.PeriodStart, updated.SpentUsd, updated.SpentPercent, updated.RemainingUsd, updated.Status).ShouldBe((WeekStart, 85m, 42.5m, 115m, "ok"));
        (await StoredAsync(created.Id)).ShouldBe(new Stored
        {
            Name = "web monthly",
            AmountUsd = 200m,
            Period = "WEEKLY",
            InstanceId = spend.Web,
            AlertThreshold = 0.5m,
            AlertSent = false,
            AlertRuleId = created.AlertRuleId,
        });
        (await RuleOfAsync(created.AlertRuleId)).ShouldBe(new Rule
        {
            Name = "Budget: web monthly",
            Type = "COST",
            Enabled = true,
            InstanceId = spend.Web,
            BudgetUsd = 200m,
            Period = "weekly",
            ThresholdPercent = 50m,
        });
        (await AuditAsync("cost.budget.update")).ShouldBe([$"budget {created.Id} web monthly"]);
    }

    [Fact]
    public async Task A_new_name_alone_keeps_the_alert_already_sent()
    {
        var spend = await SpendAsync();
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var created = await Fixture.SendAsAsync(operatorUser, new CreateBudget.Command("web monthly", 100m, "MONTHLY", spend.Web, null, null));
        await Fixture.ExecuteAsync("UPDATE fleet.budgets SET alert_sent = true WHERE id = @Id", new { created.Id });

        var updated = await Fixture.SendAsAsync(operatorUser, new UpdateBudget.Command(Change(created.Id, name: "  web  ")));

        (updated.Name, updated.AmountUsd, updated.Period, updated.AlertSent, updated.Status).ShouldBe(("web", 100m, "MONTHLY", true, "warning"));
        (await RuleOfAsync(created.AlertRuleId)).Name.ShouldBe("Budget: web");
    }

    [Fact]
    public async Task An_update_of_an_unknown_or_hidden_budget_or_onto_a_hidden_instance_is_not_found()
    {
        var spend = await SpendAsync();
        var web = await BudgetAsync("web", 100m, "MONTHLY", instance: spend.Web);
        var hidden = await BudgetAsync("hidden", 100m, "MONTHLY", instance: spend.Hidden);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new UpdateBudget.Command(Change(Guid.CreateVersion7(), amount: 5m))));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new UpdateBudget.Command(Change(hidden, amount: 5m))));
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(
            operatorUser, new UpdateBudget.Command(new BudgetChange(web, null, 5m, null, true, spend.Hidden, false, null, null))))).Message.ShouldBe($"Instance '{spend.Hidden}' not found");

        (await StoredAsync(web)).AmountUsd.ShouldBe(100m);
        (await StoredAsync(hidden)).AmountUsd.ShouldBe(100m);
    }

    [Fact]
    public async Task Invalid_updates_are_refused_and_change_nothing()
    {
        var spend = await SpendAsync();
        var web = await BudgetAsync("web", 100m, "MONTHLY", instance: spend.Web);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        BudgetChange[] invalid =
        [
            Change(web, name: "   "),
            Change(web, name: new string('n', 129)),
            Change(web, amount: 0m),
            Change(web, amount: 1_000_000_001m),
            Change(web, period: "YEARLY"),
            Change(web, threshold: 1.5m),
            Change(web, threshold: 0m),
            new(web, null, null, null, false, null, true, "ibm", null),
        ];

        foreach (var change in invalid)
        {
            await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateBudget.Command(change)));
            await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new PatchBudget.Command(change)));
        }

        (await StoredAsync(web)).ShouldBe(new Stored { Name = "web", AmountUsd = 100m, Period = "MONTHLY", InstanceId = spend.Web, AlertThreshold = 0.8m });
        (await AuditAsync("cost.budget.update")).ShouldBeEmpty();
    }

    [Fact]
    public async Task A_patch_can_widen_a_budget_to_the_fleet_and_gives_a_budget_without_a_rule_one()
    {
        var spend = await SpendAsync();
        var budget = await BudgetAsync("web fly", 100m, "MONTHLY", instance: spend.Web, provider: "fly");
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var patched = await Fixture.SendAsAsync(operatorUser, new PatchBudget.Command(new BudgetChange(budget, null, null, null, true, null, true, null, null)));

        // The whole fleet this month: 85 + 10 of 100.
        (patched.InstanceId, patched.Provider, patched.SpentUsd, patched.SpentPercent, patched.Status).ShouldBe(((Guid?)null, (string?)null, 95m, 95m, "warning"));
        patched.AlertRuleId.ShouldNotBeNull();
        (await StoredAsync(budget)).AlertRuleId.ShouldBe(patched.AlertRuleId);
        (await RuleOfAsync(patched.AlertRuleId)).ShouldBe(new Rule
        {
            Name = "Budget: web fly",
            Type = "COST",
            Enabled = true,
            InstanceId = null,
            BudgetUsd = 100m,
            Period = "monthly",
            ThresholdPercent = 80m,
        });
        (await Fixture.ScalarAsync<Guid?>("SELECT created_by FROM fleet.alert_rules WHERE id = @Id", new { Id = patched.AlertRuleId })).ShouldBe(operatorUser.Id);

        var narrowed = await Fixture.SendAsAsync(operatorUser, new PatchBudget.Command(new BudgetChange(budget, null, null, "Daily", false, null, true, " AWS ", null)));
        (narrowed.Period, narrowed.Provider, narrowed.SpentUsd, narrowed.Status).ShouldBe(("DAILY", "aws", 10m, "ok"));
        (await AuditAsync("cost.budget.update")).Count.ShouldBe(2);
    }

    [Fact]
    public async Task A_patch_of_an_unknown_or_hidden_budget_is_not_found()
    {
        var spend = await SpendAsync();
        var hidden = await BudgetAsync("hidden", 100m, "MONTHLY", instance: spend.Hidden);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new PatchBudget.Command(Change(hidden, amount: 5m))));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new PatchBudget.Command(Change(Guid.CreateVersion7(), amount: 5m))));
        (await StoredAsync(hidden)).AmountUsd.ShouldBe(100m);
        (await Fixture.SendAsAsync(admin, new PatchBudget.Command(Change(hidden, amount: 5m)))).AmountUsd.ShouldBe(5m);
    }

    [Fact]
    public async Task Deleting_a_budget_deletes_its_cost_rule_and_that_rules_alerts()
    {
        var spend = await SpendAsync();
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var created = await Fixture.SendAsAsync(operatorUser, new CreateBudget.Command("web monthly", 100m, "MONTHLY", spend.Web, null, null));
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.alerts (id, rule_id, instance_id, severity, title, message, dedupe_key) VALUES (platform.uuid_v7(), @Rule, @Instance, 'HIGH', 't', 'm', 'budget-web')",
            new { Rule = created.AlertRuleId, Instance = spend.Web });
        var kept = await BudgetAsync("kept", 10m, "DAILY");

        var deleted = await Fixture.SendAsAsync(operatorUser, new DeleteBudget.Command(created.Id));

        deleted.ShouldBe(new DeleteBudget.Response("Budget deleted", created.Id, "web monthly"));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.budgets")).ShouldBe([kept]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alert_rules WHERE id = @Id", new { Id = created.AlertRuleId })).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alerts")).ShouldBe(0);
        (await AuditAsync("cost.budget.delete")).ShouldBe([$"budget {created.Id} web monthly"]);
    }

    [Fact]
    public async Task Deleting_leaves_a_rule_that_is_not_a_cost_rule()
    {
        var other = await RuleAsync("THRESHOLD", """{"metric":"cpu","operator":"gt","threshold":90}""");
        var budget = await BudgetAsync("linked", 10m, "DAILY", rule: other);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Fixture.SendAsAsync(operatorUser, new DeleteBudget.Command(budget));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alert_rules WHERE id = @Id", new { Id = other })).ShouldBe(1);
    }

    [Fact]
    public async Task Deleting_an_unknown_or_hidden_budget_is_not_found_and_deletes_nothing()
    {
        var spend = await SpendAsync();
        var hidden = await BudgetAsync("hidden", 10m, "DAILY", instance: spend.Hidden);
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new DeleteBudget.Command(hidden)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new DeleteBudget.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(operatorUser, new DeleteBudget.Command(Guid.Empty)));

        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.budgets")).ShouldBe([hidden]);
        (await AuditAsync("cost.budget.delete")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Budget_alerts_list_the_budgets_past_their_threshold_or_alerted_most_spent_first()
    {
        var spend = await SpendAsync();
        var rule = await RuleAsync("COST", """{"budget_usd":90,"period":"daily","threshold_percent":80}""");
        var web = await BudgetAsync("web monthly", 100m, "MONTHLY", instance: spend.Web);
        var fleet = await BudgetAsync("fleet daily", 90m, "DAILY", rule: rule);
        var alerted = await BudgetAsync("aws weekly", 50m, "WEEKLY", provider: "aws", alertSent: true);
        await BudgetAsync("calm", 1000m, "MONTHLY");
        await BudgetAsync("hidden", 10m, "MONTHLY", instance: spend.Hidden, alertSent: true);
        var firedAt = new DateTime(2026, 3, 1, 12, 0, 0, DateTimeKind.Utc);
        var open = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.alerts (id, rule_id, status, severity, title, message, dedupe_key, fired_at) VALUES
                (@Open, @Rule, 'ACTIVE', 'HIGH', 't', 'm', 'budget-open', @FiredAt),
                (platform.uuid_v7(), @Rule, 'RESOLVED', 'HIGH', 't', 'm', 'budget-old', @FiredAt + interval '1 hour')
            """,
            new { Open = open, Rule = rule, FiredAt = firedAt });
        var updatedAt = await Fixture.ScalarAsync<DateTime>("SELECT updated_at FROM fleet.budgets WHERE id = @Id", new { Id = web });
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var alerts = await Fixture.SendAsAsync(viewer, new ListBudgetAlerts.Query());

        alerts.Total.ShouldBe(3);
        alerts.Alerts.Select(alert => (alert.Id, alert.BudgetId, alert.BudgetName, alert.AmountUsd, alert.SpentUsd, alert.SpentPercent, alert.Period, alert.Status, alert.AlertId)).ShouldBe(
        [
            ($"alert-{fleet}", fleet, "fleet daily", 90m, 95m, 105.56m, "DAILY", "exceeded", (Guid?)open),
            ($"alert-{web}", web, "web monthly", 100m, 85m, 85m, "MONTHLY", "warning", (Guid?)null),
            ($"alert-{alerted}", alerted, "aws weekly", 50m, 10m, 20m, "WEEKLY", "ok", (Guid?)null),
        ]);
        alerts.Alerts[0].FiredAt.ShouldBe(firedAt);
        alerts.Alerts[1].FiredAt.ShouldBe(updatedAt);
    }
}
