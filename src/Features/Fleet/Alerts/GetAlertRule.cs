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

/// <summary><c>GET /api/v1/alerts/rules/{id}</c> (seed 004): one rule with its channels and alert counts; 404.</summary>
public static class GetAlertRule
{
    public sealed record Query(Guid Id) : IQuery<RuleView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, RuleView>
    {
        private const string Select = $"SELECT {RuleRow.Columns} FROM fleet.alert_rules r WHERE r.id = @Id";

        public async Task<RuleView> Handle(Query query, CancellationToken cancellationToken) =>
            (await db.QuerySingleOrDefaultAsync<RuleRow>(Select, new { query.Id }, cancellationToken) ?? throw new NotFoundException("Alert rule not found")).ToView();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/alerts/rules/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetAlertRule))
                .WithTags(FleetRoutes.AlertRules)
                .WithSummary("Alert rule detail")
                .ProducesErrors(400, 401, 403, 404);
    }
}
