using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using FluentValidation.Results;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>POST /api/v1/alerts/rules</c> (seed 004): <c>{name, description?, type, severity, instanceId?,
/// conditions, cooldownSec? (0..86400, 300), channelIds? (≤ 20), enabled?}</c> → 201 with the rule. The conditions
/// are checked against the type's schema (400 naming <c>conditions.&lt;field&gt;</c>); an unknown instance or channel
/// is a 400 naming it.</summary>
public static class CreateAlertRule
{
    public sealed record Command(
        string? Name, string? Description, string? Type, string? Severity, Guid? InstanceId, JsonElement? Conditions, int? CooldownSec, Guid[]? ChannelIds, bool? Enabled)
        : ICommand<RuleView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(128);
            RuleFor(command => command.Description).MaximumLength(512);
            RuleFor(command => command.Type).Must(type => FleetVocabulary.IsOneOf(type, FleetVocabulary.RuleTypes))
                .WithMessage($"type must be one of: {string.Join(", ", FleetVocabulary.RuleTypes)}");
            RuleFor(command => command.Severity).Must(severity => FleetVocabulary.IsOneOf(severity, FleetVocabulary.Severities))
                .WithMessage($"severity must be one of: {string.Join(", ", FleetVocabulary.Severities)}");
            RuleFor(command => command.CooldownSec).InclusiveBetween(0, 86400).When(command => command.CooldownSec is not null);
            RuleFor(command => command.ChannelIds).Must(ids => ids!.Length <= 20).When(command => command.ChannelIds is not null)
                .WithMessage("channelIds may list at most 20 channels");
            RuleFor(command => command.Conditions).Custom((conditions, context) =>
            {
                var command = context.InstanceToValidate;
                if (!FleetVocabulary.IsOneOf(command.Type, FleetVocabulary.RuleTypes))
                {
                    return;
                }

                foreach (var (field, message) in AlertConditions.Parse(command.Type, conditions).Errors)
                {
                    context.AddFailure(new ValidationFailure(field, message));
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, RuleView>
    {
        private const string Insert = """
            INSERT INTO fleet.alert_rules (id, name, description, type, severity, enabled, instance_id, conditions, cooldown_sec, created_by, created_at, updated_at)
            VALUES (@Id, @Name, @Description, @Type, @Severity, @Enabled, @InstanceId, CAST(@Conditions AS jsonb), @CooldownSec, @CreatedBy, @Now, @Now);
            INSERT INTO fleet.alert_rule_channels (rule_id, channel_id) SELECT @Id, unnest(@ChannelIds);
            """;

        private const string Select = $"SELECT {RuleRow.Columns} FROM fleet.alert_rules r WHERE r.id = @Id";

        public async Task<RuleView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var type = command.Type!.Trim().ToUpperInvariant();
            var channelIds = (command.ChannelIds ?? []).Distinct().ToArray();
            await AlertRuleReferences.CheckAsync(db, command.InstanceId, channelIds, cancellationToken);
            var id = Guid.CreateVersion7();
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    Name = command.Name!.Trim(),
                    command.Description,
                    Type = type,
                    Severity = command.Severity!.Trim().ToUpperInvariant(),
                    Enabled = command.Enabled ?? true,
                    command.InstanceId,
                    Conditions = AlertConditions.Parse(type, command.Conditions).Condition!.ToJson().ToJsonString(),
                    CooldownSec = (long)(command.CooldownSec ?? 300),
                    CreatedBy = caller.UserId,
                    Now = clock.GetUtcNow().UtcDateTime,
                    ChannelIds = channelIds,
                },
                cancellationToken);
            audit.Record("alert_rule.create", "alert_rule", id.ToString(), command.Name, new { type, command.InstanceId, channels = channelIds });
            return (await db.QuerySingleAsync<RuleRow>(Select, new { Id = id }, cancellationToken)).ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/rules", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var rule = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/alerts/rules/{rule.Id}", rule);
                })
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(CreateAlertRule))
                .WithTags(FleetRoutes.AlertRules)
                .WithSummary("Create an alert rule")
                .ProducesErrors(400, 401, 403);
    }
}

/// <summary>Checks that a rule's instance and channels exist (400 naming the field otherwise).</summary>
internal static class AlertRuleReferences
{
    public static async Task CheckAsync(DbSession db, Guid? instanceId, Guid[] channelIds, CancellationToken cancellationToken)
    {
        if (instanceId is { } id && !await db.ExecuteScalarAsync<bool>(
                "SELECT EXISTS (SELECT 1 FROM fleet.instances WHERE id = @Id AND status <> 'DESTROYED')", new { Id = id }, cancellationToken))
        {
            throw BadRequestException.ForField("instanceId", $"Instance '{id}' not found");
        }

        if (channelIds.Length > 0)
        {
            var known = await db.QueryAsync<Guid>("SELECT id FROM fleet.notification_channels WHERE id = ANY(@Ids)", new { Ids = channelIds }, cancellationToken);
            if (channelIds.Except(known).ToList() is { Count: > 0 } missing)
            {
                throw BadRequestException.ForField("channelIds", $"Unknown channel(s): {string.Join(", ", missing)}");
            }
        }
    }
}
