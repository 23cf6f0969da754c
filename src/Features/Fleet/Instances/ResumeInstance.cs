using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
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

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>POST /api/v1/instances/{id}/resume</c> (seed 004): SUSPENDED, STOPPED or ERROR → RUNNING with a RESUME event; any other
/// status is a 409 naming it.</summary>
public static class ResumeInstance
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, Guid Id, string Name, string Status);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var outcome = await InstanceLifecycle.ApplyAsync(
                db, hub, FleetVisibility.Of(caller), command.Id, InstanceLifecycle.Actions["resume"], caller.UserId, clock.GetUtcNow().UtcDateTime, null, cancellationToken);
            audit.Record("instance.resume", "instance", command.Id.ToString(), outcome.Name, new { from = outcome.PreviousStatus, to = outcome.NewStatus });
            return new Response("Instance resumed", command.Id, outcome.Name!, outcome.NewStatus!);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/instances/{id}/resume", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.InstanceOperate)
                .WithName(nameof(ResumeInstance))
                .WithTags(FleetRoutes.Lifecycle)
                .WithSummary("Resume a suspended, stopped or failed instance")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
