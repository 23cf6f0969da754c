using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>POST /api/v1/alerts/channels/{id}/test</c> (seed 004): sends a test notification (alert id
/// <c>test-alert-id</c>, severity INFO, "Test Notification") through the channel, once, with the usual deadline, and
/// answers 200 <c>{success, error, statusCode, durationMs}</c> either way; 404 for an unknown channel.</summary>
public static class TestChannel
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(bool Success, string? Error, int? StatusCode, long DurationMs, ChannelRef Channel);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit, EnvelopeCipher cipher, IHttpClientFactory httpClients, IConfiguration configuration, EventHub hub, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Select = "SELECT id, name, type, config_sealed FROM fleet.notification_channels WHERE id = @Id";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var channel = await db.QuerySingleOrDefaultAsync<ChannelState>(Select, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Notification channel not found");
            var payload = new NotificationSender.Payload(
                "test-alert-id", Guid.Empty, "Test Rule", "THRESHOLD", null, null, "INFO", "Test Notification",
                $"This is a test notification from Capstan for channel '{channel.Name}'.", "ACTIVE", clock.GetUtcNow().UtcDateTime,
                JsonSerializer.SerializeToElement(new { test = true }));
            var sender = new NotificationSender(httpClients, configuration, hub);
            var attempt = (await sender.DeliverAsync(channel.Type, ChannelConfigs.Unseal(cipher, channel.Id, channel.ConfigSealed), payload, retry: false, cancellationToken))[0];
            audit.Record("notification_channel.test", "notification_channel", channel.Id.ToString(), channel.Name, new { attempt.Success, attempt.StatusCode });
            return new Response(attempt.Success, attempt.Error, attempt.StatusCode, attempt.DurationMs, new ChannelRef(channel.Id, channel.Name, channel.Type));
        }
    }

    internal sealed record ChannelState
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Type { get; init; } = string.Empty;

        public byte[] ConfigSealed { get; init; } = [];
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/alerts/channels/{id}/test", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(TestChannel))
                .WithTags(FleetRoutes.Channels)
                .WithSummary("Send a test notification through a channel")
                .ProducesErrors(400, 401, 403, 404);
    }
}
