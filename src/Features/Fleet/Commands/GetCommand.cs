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

namespace Capstan.Features.Fleet.Commands;

/// <summary><c>GET /api/v1/commands/{id}</c> (seed 004): one execution with its exit code, output and duration; 404
/// for an unknown one (or one on an instance the caller may not see).</summary>
public static class GetCommand
{
    public sealed record Query(Guid Id) : IQuery<ExecutionView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, ExecutionView>
    {
        private const string Select = $"""
            SELECT {ExecutionRow.Columns}
            FROM fleet.command_executions c JOIN fleet.instances i ON i.id = c.instance_id
            WHERE c.id = @Id AND {FleetVisibility.Predicate}
            """;

        public async Task<ExecutionView> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var row = await db.QuerySingleOrDefaultAsync<ExecutionRow>(Select, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Command execution '{query.Id}' not found");
            return row.ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/commands/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetCommand))
                .WithTags(FleetRoutes.Commands)
                .WithSummary("Command execution detail")
                .ProducesErrors(400, 401, 403, 404);
    }
}
