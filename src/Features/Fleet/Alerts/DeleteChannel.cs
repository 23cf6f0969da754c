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

/// <summary><c>DELETE /api/v1/alerts/channels/{id}</c> (seed 004): removes the channel from every rule (past delivery
/// records keep its name) → <c>{message: "Channel deleted", id, name}</c>; 404.</summary>
public static class DeleteChannel
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, Guid Id, string Name);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        private const string Delete = "DELETE FROM fleet.notification_channels WHERE id = @Id RETURNING name";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Notification channel not found");
            audit.Record("notification_channel.delete", "notification_channel", command.Id.ToString(), name);
            return new Response("Channel deleted", command.Id, name);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/alerts/channels/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AlertManage)
                .WithName(nameof(DeleteChannel))
                .WithTags(FleetRoutes.Channels)
                .WithSummary("Delete a notification channel")
                .ProducesErrors(400, 401, 403, 404);
    }
}
