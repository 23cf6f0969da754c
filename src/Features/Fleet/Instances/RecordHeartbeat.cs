using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Fleet.Instances;

/// <summary>
/// <c>POST /api/v1/instances/{id}/heartbeat</c>: an addition beyond seed 004 for agents that cannot hold the
/// <c>/ws/agent</c> socket, which reports the same heartbeat. Stores the liveness sample (and an
/// optional full <c>metrics</c> snapshot), moves the instance's <c>lastHeartbeatAt</c>, takes extension and process
/// reports, and brings an ERROR, UNKNOWN or STOPPED instance back to RUNNING (HEARTBEAT_RECOVERED / CONNECT event):
/// <see cref="HeartbeatReport.RecordAsync"/>, which the socket's handler (RecordAgentHeartbeat) shares. A destroyed
/// instance is a 409.
/// </summary>
public static class RecordHeartbeat
{
    [NotAudited("agent telemetry: one heartbeat every few seconds per instance")]
    public sealed record Command(Guid InstanceId, HeartbeatReport Heartbeat) : ICommand<Response>;

    public sealed record Response(bool Ok, Guid InstanceId, string Status, DateTime ReceivedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            var rules = new HeartbeatReport.Rules();
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.Heartbeat).NotNull().WithMessage("a heartbeat body is required").OverridePropertyName("body");

            // The report's own field names (cpuPercent, extensions...), not prefixed by this command's property.
            RuleFor(command => command.Heartbeat).Custom((heartbeat, context) =>
            {
                foreach (var failure in heartbeat is null ? [] : rules.Validate(heartbeat).Errors)
                {
                    context.AddFailure(failure);
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Current = $"""
            SELECT i.name, i.status FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate} FOR UPDATE
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var current = await db.QuerySingleOrDefaultAsync<State>(Current, new { Id = command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            if (current.Status == "DESTROYED")
            {
                throw new ConflictException($"Instance '{current.Name}' is destroyed; register it again to report");
            }

            var outcome = await command.Heartbeat.RecordAsync(db, hub, command.InstanceId, current.Status, clock.GetUtcNow().UtcDateTime, cancellationToken);
            return new Response(true, command.InstanceId, outcome.Status, outcome.ReceivedAt);
        }
    }

    internal sealed record State(string Name, string Status);

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/instances/{id}/heartbeat", async (Guid id, HeartbeatReport body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body), cancellationToken)))
                .RequirePermission(Permissions.TelemetryIngest)
                .WithName(nameof(RecordHeartbeat))
                .WithTags(FleetRoutes.Agents)
                .WithSummary("Report a heartbeat over REST" + FleetRoutes.BeyondInventory)
                .WithDescription("For agents that cannot hold the /ws/agent socket. Not in seed 004's inventory: the upstream only takes heartbeats over the socket.")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
