using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
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

/// <summary><c>POST /api/v1/alerts/channels</c> (seed 004): <c>{name, type: WEBHOOK|SLACK|EMAIL|IN_APP, config,
/// enabled?}</c> → 201 with the channel, its configuration sealed at rest and masked in the answer; a configuration
/// that does not fit the type is a 400 naming <c>config.&lt;field&gt;</c>.</summary>
public static class CreateChannel
{
    public sealed record Command(string? Name, string? Type, JsonElement? Config, bool? Enabled) : ICommand<ChannelView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(128);
            RuleFor(command => command.Type).Must(type => FleetVocabulary.IsOneOf(type, FleetVocabulary.ChannelTypes))
                .WithMessage($"type must be one of: {string.Join(", ", FleetVocabulary.ChannelTypes)}");
            RuleFor(command => command.Config).Custom((config, context) =>
            {
                if (!FleetVocabulary.IsOneOf(context.InstanceToValidate.Type, FleetVocabulary.ChannelTypes))
                {
                    return;
                }

                foreach (var (field, message) in ChannelConfigs.Parse(context.InstanceToValidate.Type, config).Errors)
                {
                    context.AddFailure(new ValidationFailure(field, message));
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, TimeProvider clock) : IRequestHandler<Command, ChannelView>
    {
        private const string Insert = """
            INSERT INTO fleet.notification_channels (id, name, type, config_masked, config_sealed, enabled, created_by, created_at, updated_at)
            VALUES (@Id, @Name, @Type, CAST(@Masked AS jsonb), @Sealed, @Enabled, @CreatedBy, @Now, @Now)
            """;

        private const string Select = $"SELECT {ChannelRow.Columns} FROM fleet.notification_channels c WHERE c.id = @Id";

        public async Task<ChannelView> Handle(Command command, CancellationToken cancellationToken)
        {
            var type = command.Type!.Trim().ToUpperInvariant();
            var config = ChannelConfigs.Parse(type, command.Config).Config!;
            var id = Guid.CreateVersion7();
            await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    Name = command.Name!.Trim(),
                    Type = type,
                    Masked = ChannelConfigs.Masked(config).ToJsonString(),
                    Sealed = ChannelConfigs.Seal(cipher, id, config),
                    Enabled = command.Enabled ?? true,
                    CreatedBy = request.RequiredCaller.UserId,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            audit.Record("notification_channel.create", "notification_channel", id.ToString(), command.Name, new { type });
            return (await db.QuerySingleAsync<ChannelRow>(Select, new { Id = id }, cancellationToken)).ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/channels", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var channel = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/alerts/channels/{channel.Id}", channel);
                })
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(CreateChannel))
                .WithTags(FleetRoutes.Channels)
                .WithSummary("Create a notification channel")
                .ProducesErrors(400, 401, 403);
    }
}
