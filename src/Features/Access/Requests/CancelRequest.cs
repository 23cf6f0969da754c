using System.Text.Json.Serialization;
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

namespace Capstan.Features.Access.Requests;

/// <summary><c>POST /api/v1/requests/{id}/cancel</c> (seed 003) <c>{actor_id?}</c>: the requester withdraws a pending
/// request; its wraps become unusable. Only the requester may (403 for others who can see it); <c>actor_id</c> may only
/// name the caller.</summary>
public static class CancelRequest
{
    public sealed record Command(Guid Id, string? ActorId) : ICommand<RequestBody>;

    public sealed record Body([property: JsonPropertyName("actor_id")] string? ActorId);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.ActorId).MaximumLength(100).OverridePropertyName("actor_id");
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, AccessMetrics metrics) : IRequestHandler<Command, RequestBody>
    {
        public async Task<RequestBody> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            request.CallerIdMatching(command.ActorId, "actor_id");
            audit.CorrelationId = command.Id;
            var row = await db.QuerySingleOrDefaultAsync<RequestRow>(RequestRecords.ByIdForUpdate, new { command.Id }, cancellationToken);
            if (row is null || !RequestRecords.CanSee(caller, row))
            {
                throw new NotFoundException("request not found");
            }

            if (row.RequesterId != caller.UserId)
            {
                throw new ForbiddenException("only the original requester can cancel");
            }

            if (!await RequestTransitions.CloseAsync(db, audit, metrics, row.Id, "cancelled", null, cancellationToken))
            {
                throw new ConflictException($"request is not pending (it is {row.Status})");
            }

            audit.Record("request.cancel", "request", row.Id.ToString());
            var current = await db.QuerySingleAsync<RequestRow>(RequestRecords.ById, new { row.Id }, cancellationToken);
            return await RequestRecords.ToBodyAsync(db, current, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/requests/{id}/cancel", async (Guid id, Body? body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body?.ActorId), cancellationToken)))
                .RequirePermission(Permissions.SecretRequest)
                .WithName(nameof(CancelRequest))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("Cancel your own pending request")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
