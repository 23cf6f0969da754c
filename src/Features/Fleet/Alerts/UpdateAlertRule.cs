using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>PUT /api/v1/alerts/rules/{id}</c> (seed 004): a partial update; fields left out keep their value,
/// <c>instanceId: null</c> widens the rule to every instance, <c>channelIds</c> replaces the channel set, a new
/// <c>type</c> needs new <c>conditions</c>; conditions are checked against the (new or current) type. 404 for an unknown
/// rule.</summary>
public static class UpdateAlertRule
{
    public sealed record Body
    {
        public string? Name { get; init; }

        public string? Description { get; init; }

        public string? Type { get; init; }

        public string? Severity { get; init; }

        /// <summary>Left out: unchanged; null: every instance; an id: that instance.</summary>
        public JsonElement InstanceId { get; init; }

        public JsonElement? Conditions { get; init; }

        public int? CooldownSec { get; init; }

        public Guid[]? ChannelIds { get; init; }

        public bool? Enabled { get; init; }
    }

    public sealed record Command(Guid Id, Body Changes) : ICommand<RuleView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Changes.Name).NotEmpty().MaximumLength(128).When(command => command.Changes.Name is not null).OverridePropertyName("name");
            RuleFor(command => command.Changes.Description).MaximumLength(512).OverridePropertyName("description");
            RuleFor(command => command.Changes.Type).Must(type => FleetVocabulary.IsOneOf(type, FleetVocabulary.RuleTypes))
                .When(command => command.Changes.Type is not null).WithMessage($"type must be one of: {string.Join(", ", FleetVocabulary.RuleTypes)}")
                .OverridePropertyName("type");
            RuleFor(command => command.Changes.Conditions).NotNull().When(command => command.Changes.Type is not null)
                .WithMessage("a new type needs its conditions").OverridePropertyName("conditions");
            RuleFor(command => command.Changes.Severity).Must(severity => FleetVocabulary.IsOneOf(severity, FleetVocabulary.Severities))
                .When(command => command.Changes.Severity is not null).WithMessage($"severity must be one of: {string.Join(", ", FleetVocabulary.Severities)}")
                .OverridePropertyName("severity");
            RuleFor(command => command.Changes.InstanceId).Must(id => id.ValueKind is JsonValueKind.Undefined or JsonValueKind.Null
                    || (id.ValueKind == JsonValueKind.String && Guid.TryParse(id.GetString(), out _)))
                .WithMessage("instanceId must be an instance id or null").OverridePropertyName("instanceId");
            RuleFor(command => command.Changes.CooldownSec).InclusiveBetween(0, 86400).When(command => command.Changes.CooldownSec is not null)
                .OverridePropertyName("cooldownSec");
            RuleFor(command => command.Changes.ChannelIds).Must(ids => ids!.Length <= 20).When(command => command.Changes.ChannelIds is not null)
                .WithMessage("channelIds may list at most 20 channels").OverridePropertyName("channelIds");
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, RuleView>
    {
        private const string Current = "SELECT type, instance_id FROM fleet.alert_rules WHERE id = @Id FOR UPDATE";

        private const string Update = """
            UPDATE fleet.alert_rules
            SET name = COALESCE(@Name, name),
                description = CASE WHEN @DescriptionGiven THEN @Description ELSE description END,
                type = @Type,
                severity = COALESCE(@Severity, severity),
                instance_id = @InstanceId,
                conditions = COALESCE(CAST(@Conditions AS jsonb), conditions),
                cooldown_sec = COALESCE(@CooldownSec, cooldown_sec),
                enabled = COALESCE(@Enabled, enabled),
                updated_at = @Now
            WHERE id = @Id
            """;

        private const string ReplaceChannels = """
            DELETE FROM fleet.alert_rule_channels WHERE rule_id = @Id;
            INSERT INTO fleet.alert_rule_channels (rule_id, channel_id) SELECT @Id, unnest(@ChannelIds);
            """;

        private const string Select = $"SELECT {RuleRow.Columns} FROM fleet.alert_rules r WHERE r.id = @Id";

        public async Task<RuleView> Handle(Command command, CancellationToken cancellationToken)
        {
            var changes = command.Changes;
            var current = await db.QuerySingleOrDefaultAsync<RuleState>(Current, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Alert rule not found");
            var type = changes.Type?.Trim().ToUpperInvariant() ?? current.Type;
            string? conditions = null;
            if (changes.Conditions is not null)
            {
                var (condition, errors) = AlertConditions.Parse(type, changes.Conditions);
                if (errors.Count > 0)
                {
                    throw new BadRequestException(errors[0].Value)
                    {
                        Details = errors.GroupBy(error => error.Key).ToDictionary(group => group.Key, group => group.Select(error => error.Value).ToArray()),
                    };
                }

                conditions = condition!.ToJson().ToJsonString();
            }

            var instanceId = changes.InstanceId.ValueKind switch
            {
                JsonValueKind.Undefined => current.InstanceId,
                JsonValueKind.Null => null,
                _ => Guid.Parse(changes.InstanceId.GetString()!),
            };
            var channelIds = changes.ChannelIds?.Distinct().ToArray();
            await AlertRuleReferences.CheckAsync(db, instanceId == current.InstanceId ? null : instanceId, channelIds ?? [], cancellationToken);
            await db.ExecuteAsync(
                Update,
                new
                {
                    command.Id,
                    Name = changes.Name?.Trim(),
                    DescriptionGiven = changes.Description is not null,
                    changes.Description,
                    Type = type,
                    Severity = changes.Severity?.Trim().ToUpperInvariant(),
                    InstanceId = instanceId,
                    Conditions = conditions,
                    CooldownSec = (long?)changes.CooldownSec,
                    changes.Enabled,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            if (channelIds is not null)
            {
                await db.ExecuteAsync(ReplaceChannels, new { command.Id, ChannelIds = channelIds }, cancellationToken);
            }

            var rule = (await db.QuerySingleAsync<RuleRow>(Select, new { command.Id }, cancellationToken)).ToView();
            audit.Record("alert_rule.update", "alert_rule", command.Id.ToString(), rule.Name, new { type, instanceId, channels = channelIds });
            return rule;
        }
    }

    internal sealed record RuleState
    {
        public string Type { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/alerts/rules/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(UpdateAlertRule))
                .WithTags(FleetRoutes.AlertRules)
                .WithSummary("Update an alert rule")
                .ProducesErrors(400, 401, 403, 404);
    }
}
