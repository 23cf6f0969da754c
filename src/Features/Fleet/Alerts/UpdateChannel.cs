using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
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

/// <summary><c>PUT /api/v1/alerts/channels/{id}</c> (seed 004): <c>{name?, config?, enabled?}</c>; a new
/// <c>config</c> replaces the old one (checked against the channel's type), except that masked values sent back
/// (<c>***</c>) keep the stored secret. 404 for an unknown channel.</summary>
public static class UpdateChannel
{
    public sealed record Body(string? Name, JsonElement? Config, bool? Enabled);

    public sealed record Command(Guid Id, string? Name, JsonElement? Config, bool? Enabled) : ICommand<ChannelView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Name).NotEmpty().MaximumLength(128).When(command => command.Name is not null);
            RuleFor(command => command.Config).Must(config => config!.Value.ValueKind == JsonValueKind.Object).When(command => command.Config is not null)
                .WithMessage("config must be an object");
        }
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, EnvelopeCipher cipher, TimeProvider clock) : IRequestHandler<Command, ChannelView>
    {
        private const string Current = "SELECT type, config_sealed FROM fleet.notification_channels WHERE id = @Id FOR UPDATE";

        private const string Update = """
            UPDATE fleet.notification_channels
            SET name = COALESCE(@Name, name),
                enabled = COALESCE(@Enabled, enabled),
                config_masked = COALESCE(CAST(@Masked AS jsonb), config_masked),
                config_sealed = COALESCE(@Sealed, config_sealed),
                updated_at = @Now
            WHERE id = @Id
            """;

        private const string Select = $"SELECT {ChannelRow.Columns} FROM fleet.notification_channels c WHERE c.id = @Id";

        public async Task<ChannelView> Handle(Command command, CancellationToken cancellationToken)
        {
            var current = await db.QuerySingleOrDefaultAsync<ChannelState>(Current, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Notification channel not found");
            string? masked = null;
            byte[]? sealedConfig = null;
            if (command.Config is not null)
            {
                var stored = ChannelConfigs.Unseal(cipher, command.Id, current.ConfigSealed);
                var merged = ChannelConfigs.KeepMaskedValues(System.Text.Json.Nodes.JsonNode.Parse(command.Config.Value.GetRawText())!.AsObject(), stored);
                var (config, errors) = ChannelConfigs.Parse(current.Type, JsonDocument.Parse(merged.ToJsonString()).RootElement);
                if (errors.Count > 0)
                {
                    throw new BadRequestException(errors[0].Value)
                    {
                        Details = errors.GroupBy(error => error.Key).ToDictionary(group => group.Key, group => group.Select(error => error.Value).ToArray()),
                    };
                }

                masked = ChannelConfigs.Masked(config!).ToJsonString();
                sealedConfig = ChannelConfigs.Seal(cipher, command.Id, config!);
            }

            await db.ExecuteAsync(
                Update,
                new { command.Id, Name = command.Name?.Trim(), command.Enabled, Masked = masked, Sealed = sealedConfig, Now = clock.GetUtcNow().UtcDateTime },
                cancellationToken);
            var channel = (await db.QuerySingleAsync<ChannelRow>(Select, new { command.Id }, cancellationToken)).ToView();
            audit.Record("notification_channel.update", "notification_channel", command.Id.ToString(), channel.Name, new { configChanged = command.Config is not null, command.Enabled });
            return channel;
        }
    }

    internal sealed record ChannelState
    {
        public string Type { get; init; } = string.Empty;

        public byte[] ConfigSealed { get; init; } = [];
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/alerts/channels/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body.Name, body.Config, body.Enabled), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(UpdateChannel))
                .WithTags(FleetRoutes.Channels)
                .WithSummary("Update a notification channel")
                .ProducesErrors(400, 401, 403, 404);
    }
}
