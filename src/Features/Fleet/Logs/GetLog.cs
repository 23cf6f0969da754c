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

namespace Capstan.Features.Fleet.Logs;

/// <summary><c>GET /api/v1/logs/{id}</c> (seed 004): one log line, or 404.</summary>
public static class GetLog
{
    public sealed record Query(Guid Id) : IQuery<LogView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, LogView>
    {
        private const string Select = $"""
            SELECT {LogRow.Columns}
            FROM fleet.logs l
            JOIN fleet.instances i ON i.id = l.instance_id
            WHERE l.id = @Id AND {FleetVisibility.Predicate}
            """;

        public async Task<LogView> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var row = await db.QuerySingleOrDefaultAsync<LogRow>(Select, new { query.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Log entry '{query.Id}' not found");
            return row.ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/logs/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetLog))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Get a single log entry")
                .ProducesErrors(400, 401, 403, 404);
    }
}
