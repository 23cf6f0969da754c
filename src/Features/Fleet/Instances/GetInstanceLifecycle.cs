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

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>GET /api/v1/instances/{id}/lifecycle</c> (seed 004): the actions the instance's current status allows
/// (<c>suspend</c>, <c>resume</c>, <c>destroy</c>, <c>backup</c>).</summary>
public static class GetInstanceLifecycle
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    public sealed record Response(Guid InstanceId, string Name, string Status, IReadOnlyList<string> AvailableActions);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Select = $"SELECT i.name, i.status FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate}";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var row = await db.QuerySingleOrDefaultAsync<Row>(Select, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{query.Id}' not found");
            return new Response(query.Id, row.Name, row.Status, InstanceLifecycle.AvailableActions(row.Status));
        }
    }

    internal sealed record Row(string Name, string Status);

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/instances/{id}/lifecycle", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetInstanceLifecycle))
                .WithTags(FleetRoutes.Lifecycle)
                .WithSummary("Available actions for the current status")
                .ProducesErrors(400, 401, 403, 404);
    }
}
