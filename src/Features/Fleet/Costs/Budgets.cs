using System.Globalization;
using System.Linq.Expressions;
using System.Text.Json;
using Capstan.Features.Fleet.Alerts;
using Capstan.Infrastructure.Data;
using FluentValidation;

namespace Capstan.Features.Fleet.Costs;

/// <summary>A budget as seed 004's clients read it (reference sindri.md §8.9), with its spend in the current period
/// (today, the week from Sunday, or the month; UTC) and the status of <see cref="CostModel.BudgetStatus"/>.
/// <c>alertRuleId</c> is the COST alert rule its alerts are raised under.</summary>
public sealed record BudgetView(
    Guid Id,
    string Name,
    decimal AmountUsd,
    string Period,
    Guid? InstanceId,
    string? Provider,
    decimal AlertThreshold,
    bool AlertSent,
    Guid? AlertRuleId,
    Guid? CreatedBy,
    DateTime CreatedAt,
    DateTime UpdatedAt,
    DateTime PeriodStart,
    decimal SpentUsd,
    decimal SpentPercent,
    decimal CurrentSpendUsd,
    decimal PercentUsed,
    decimal RemainingUsd,
    string Status);

/// <summary>Budget rows, their spend, and the COST alert rule each budget owns.</summary>
internal static class Budgets
{
    public static readonly string[] Periods = ["DAILY", "WEEKLY", "MONTHLY"];

    /// <summary>Budgets aliased <c>b</c> with their period's spend; needs <c>@DayStart</c>, <c>@WeekStart</c>,
    /// <c>@MonthStart</c> (see <see cref="Starts"/>).</summary>
    public const string Select = """
        SELECT b.id, b.name, b.amount_usd, b.period, b.instance_id, b.provider, b.alert_threshold, b.alert_sent, b.alert_rule_id,
               b.created_by, b.created_at, b.updated_at,
               CASE b.period WHEN 'DAILY' THEN @DayStart WHEN 'WEEKLY' THEN @WeekStart ELSE @MonthStart END AS period_start,
               COALESCE(s.spent, 0) AS spent_usd
        FROM fleet.budgets b
        LEFT JOIN LATERAL (
            SELECT sum(e.total_usd) AS spent FROM fleet.cost_entries e
            WHERE e.period_start >= CASE b.period WHEN 'DAILY' THEN @DayStart WHEN 'WEEKLY' THEN @WeekStart ELSE @MonthStart END
              AND (b.instance_id IS NULL OR e.instance_id = b.instance_id)
              AND (b.provider IS NULL OR e.provider = b.provider)
        ) s ON true
        """;

    private const string InsertRule = """
        INSERT INTO fleet.alert_rules (id, name, description, type, severity, enabled, instance_id, conditions, cooldown_sec, created_by, created_at, updated_at)
        VALUES (@Id, @Name, @Description, 'COST', 'HIGH', false, @InstanceId, CAST(@Conditions AS jsonb), 300, @CreatedBy, @Now, @Now)
        """;

    private const string UpdateRule = """
        UPDATE fleet.alert_rules SET name = @Name, description = @Description, instance_id = @InstanceId, conditions = CAST(@Conditions AS jsonb), updated_at = @Now
        WHERE id = @Id
        """;

    public static object Starts(DateTime now) => new
    {
        DayStart = AlertEvaluator.PeriodStart("daily", now),
        WeekStart = AlertEvaluator.PeriodStart("weekly", now),
        MonthStart = AlertEvaluator.PeriodStart("monthly", now),
    };

    /// <summary>The parameters of <see cref="Select"/> plus <paramref name="extra"/>'s properties.</summary>
    public static Dapper.DynamicParameters Parameters(DateTime now, object? extra = null)
    {
        var parameters = new Dapper.DynamicParameters(Starts(now));
        if (extra is not null)
        {
            parameters.AddDynamicParams(extra);
        }

        return parameters;
    }

    public static string? NormalisePeriod(string? period) =>
        period is null ? null : Periods.FirstOrDefault(known => string.Equals(known, period.Trim(), StringComparison.OrdinalIgnoreCase));

    /// <summary>Creates the budget's COST alert rule. It stays disabled for the per-instance evaluator: the cost
    /// analysis job raises and resolves its alerts from the budget's own spend (which may span many instances).</summary>
    public static async Task<Guid> CreateRuleAsync(DbSession db, Guid budgetId, string name, decimal amount, string period, decimal threshold, Guid? instanceId, Guid? createdBy, DateTime now, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        await db.ExecuteAsync(InsertRule, RuleParameters(id, budgetId, name, amount, period, threshold, instanceId, now, createdBy), cancellationToken);
        return id;
    }

    public static Task UpdateRuleAsync(DbSession db, Guid ruleId, Guid budgetId, string name, decimal amount, string period, decimal threshold, Guid? instanceId, DateTime now, CancellationToken cancellationToken) =>
        db.ExecuteAsync(UpdateRule, RuleParameters(ruleId, budgetId, name, amount, period, threshold, instanceId, now, null), cancellationToken);

    private static object RuleParameters(Guid id, Guid budgetId, string name, decimal amount, string period, decimal threshold, Guid? instanceId, DateTime now, Guid? createdBy) => new
    {
        Id = id,
        Name = $"Budget: {name}",
        Description = $"Raised by the cost analysis job when budget {budgetId} reaches its alert threshold; kept in step with the budget",
        InstanceId = instanceId,
        Conditions = JsonSerializer.Serialize(new { budget_usd = amount, period = period.ToLowerInvariant(), threshold_percent = threshold * 100 }),
        CreatedBy = createdBy,
        Now = now,
    };

    internal sealed record Row
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public decimal AmountUsd { get; init; }

        public string Period { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string? Provider { get; init; }

        public decimal AlertThreshold { get; init; }

        public bool AlertSent { get; init; }

        public Guid? AlertRuleId { get; init; }

        public Guid? CreatedBy { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime UpdatedAt { get; init; }

        public DateTime PeriodStart { get; init; }

        public decimal SpentUsd { get; init; }

        public string Status => CostModel.BudgetStatus(SpentUsd, AmountUsd, AlertThreshold);

        public BudgetView ToView()
        {
            var spent = CostModel.Cents(SpentUsd);
            var percent = CostModel.Percent(SpentUsd, AmountUsd);
            return new BudgetView(
                Id, Name, AmountUsd, Period, InstanceId, Provider, AlertThreshold, AlertSent, AlertRuleId, CreatedBy, CreatedAt, UpdatedAt, PeriodStart,
                spent, percent, spent, percent, Math.Max(0, CostModel.Cents(AmountUsd - SpentUsd)), Status);
        }

        public string Describe() => string.Create(
            CultureInfo.InvariantCulture,
            $"Spent ${SpentUsd:0.00} of ${AmountUsd:0.00} this {Period switch { "DAILY" => "day", "WEEKLY" => "week", _ => "month" }} ({CostModel.Percent(SpentUsd, AmountUsd):0.##}%, alert at {AlertThreshold * 100:0.##}%)");
    }
}

/// <summary>A budget change as PUT and PATCH take it (both partial): what is absent stays; <c>instanceId</c> and
/// <c>provider</c> may be set to null to widen the budget again. camelCase and snake_case names are accepted.</summary>
public sealed record BudgetChange(
    Guid Id, string? Name, decimal? AmountUsd, string? Period, bool SetsInstance, Guid? InstanceId, bool SetsProvider, string? Provider, decimal? AlertThreshold)
{
    public static BudgetChange Parse(Guid id, JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
        {
            throw Capstan.Infrastructure.Errors.BadRequestException.ForField("body", "the body must be a JSON object");
        }

        var name = Read(body, "name", "name", element => element.GetString());
        var amount = Read(body, "amountUsd", "amount_usd", element => (decimal?)element.GetDecimal());
        var period = Read(body, "period", "period", element => element.GetString());
        var threshold = Read(body, "alertThreshold", "alert_threshold", element => (decimal?)element.GetDecimal());
        var setsInstance = Has(body, "instanceId", "instance_id");
        var instance = Read(body, "instanceId", "instance_id", element => (Guid?)element.GetGuid());
        var setsProvider = Has(body, "provider", "provider");
        var provider = Read(body, "provider", "provider", element => element.GetString());
        return new BudgetChange(id, name, amount, period, setsInstance, instance, setsProvider, provider, threshold);
    }

    private static bool Has(JsonElement body, string camel, string snake) => body.TryGetProperty(camel, out _) || body.TryGetProperty(snake, out _);

    private static T? Read<T>(JsonElement body, string camel, string snake, Func<JsonElement, T> read)
    {
        if (!body.TryGetProperty(camel, out var value) && !body.TryGetProperty(snake, out value))
        {
            return default;
        }

        if (value.ValueKind == JsonValueKind.Null)
        {
            return default;
        }

        try
        {
            return read(value);
        }
        catch (Exception exception) when (exception is InvalidOperationException or FormatException)
        {
            throw Capstan.Infrastructure.Errors.BadRequestException.ForField(camel, $"{camel} has the wrong type");
        }
    }
}

/// <summary>Rules a budget's fields follow, on create and change.</summary>
internal static class BudgetRules
{
    public static void Apply<T>(
        AbstractValidator<T> validator, Expression<Func<T, string?>> name, Expression<Func<T, decimal?>> amount, Expression<Func<T, string?>> period,
        Expression<Func<T, string?>> provider, Expression<Func<T, decimal?>> threshold)
    {
        validator.RuleFor(name).Must(value => value is null || value.Trim().Length is > 0 and <= 128).WithMessage("name must be 1 to 128 characters").OverridePropertyName("name");
        validator.RuleFor(amount).Must(value => value is null or (> 0 and <= 1_000_000_000)).WithMessage("amountUsd must be greater than 0").OverridePropertyName("amountUsd");
        validator.RuleFor(period).Must(value => value is null || Budgets.NormalisePeriod(value) is not null).WithMessage("period must be one of: DAILY, WEEKLY, MONTHLY")
            .OverridePropertyName("period");
        validator.RuleFor(provider).Must(value => value is null || FleetVocabulary.IsOneOf(value, FleetVocabulary.Providers))
            .WithMessage($"provider must be one of: {string.Join(", ", FleetVocabulary.Providers)}").OverridePropertyName("provider");
        validator.RuleFor(threshold).Must(value => value is null or (>= 0.01m and <= 1m)).WithMessage("alertThreshold must be between 0.01 and 1.0").OverridePropertyName("alertThreshold");
    }
}

/// <summary>The change both PUT and PATCH apply.</summary>
internal static class BudgetChanges
{
    private const string Current = "SELECT id, name, amount_usd, period, instance_id, provider, alert_threshold, alert_rule_id FROM fleet.budgets WHERE id = @Id FOR UPDATE";

    private const string Update = """
        UPDATE fleet.budgets
        SET name = @Name, amount_usd = @AmountUsd, period = @Period, instance_id = @InstanceId, provider = @Provider, alert_threshold = @AlertThreshold,
            alert_rule_id = @RuleId, alert_sent = alert_sent AND NOT @Rearm, updated_at = @Now
        WHERE id = @Id
        """;

    public static async Task<BudgetView> ApplyAsync(DbSession db, Capstan.Infrastructure.Audit.AuditTrail audit, Capstan.Infrastructure.Security.Caller caller, BudgetChange change, DateTime now, CancellationToken cancellationToken)
    {
        var current = await db.QuerySingleOrDefaultAsync<Stored>(Current, new { change.Id }, cancellationToken)
            ?? throw new Capstan.Infrastructure.Errors.NotFoundException($"Budget '{change.Id}' not found");
        var instanceId = change.SetsInstance ? change.InstanceId : current.InstanceId;
        if (change.SetsInstance && instanceId is { } instance)
        {
            await RequireInstanceAsync(db, caller, instance, cancellationToken);
        }

        var name = change.Name?.Trim() ?? current.Name;
        var amount = change.AmountUsd ?? current.AmountUsd;
        var period = Budgets.NormalisePeriod(change.Period) ?? current.Period;
        var provider = change.SetsProvider ? change.Provider?.Trim().ToLowerInvariant() : current.Provider;
        var threshold = change.AlertThreshold ?? current.AlertThreshold;
        // A different amount, period, scope or threshold is a different budget to watch: its alert may be raised again.
        var rearm = amount != current.AmountUsd || period != current.Period || instanceId != current.InstanceId || provider != current.Provider || threshold != current.AlertThreshold;
        var ruleId = current.AlertRuleId;
        if (ruleId is { } rule)
        {
            await Budgets.UpdateRuleAsync(db, rule, change.Id, name, amount, period, threshold, instanceId, now, cancellationToken);
        }
        else
        {
            ruleId = await Budgets.CreateRuleAsync(db, change.Id, name, amount, period, threshold, instanceId, caller.UserId, now, cancellationToken);
        }

        await db.ExecuteAsync(
            Update,
            new { change.Id, Name = name, AmountUsd = amount, Period = period, InstanceId = instanceId, Provider = provider, AlertThreshold = threshold, RuleId = ruleId, Rearm = rearm, Now = now },
            cancellationToken);
        var view = (await db.QuerySingleAsync<Budgets.Row>($"{Budgets.Select} WHERE b.id = @Id", Budgets.Parameters(now, new { change.Id }), cancellationToken)).ToView();
        audit.Record("cost.budget.update", "budget", view.Id.ToString(), view.Name, new { view.AmountUsd, view.Period, view.InstanceId, view.Provider, view.AlertThreshold });
        return view;
    }

    /// <summary>404 unless the instance exists and the caller may see it.</summary>
    public static async Task RequireInstanceAsync(DbSession db, Capstan.Infrastructure.Security.Caller caller, Guid instanceId, CancellationToken cancellationToken)
    {
        var scope = FleetVisibility.Of(caller);
        if (!await db.ExecuteScalarAsync<bool>(
                $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})", new { Id = instanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
        {
            throw new Capstan.Infrastructure.Errors.NotFoundException($"Instance '{instanceId}' not found");
        }
    }

    private sealed record Stored
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public decimal AmountUsd { get; init; }

        public string Period { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string? Provider { get; init; }

        public decimal AlertThreshold { get; init; }

        public Guid? AlertRuleId { get; init; }
    }
}
