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

namespace Capstan.Features.Fleet.Deployments;

/// <summary><c>GET /api/v1/deployments/{id}</c> (seed 004): <c>{deployment}</c> with its status (PENDING,
/// IN_PROGRESS, SUCCEEDED, FAILED), progress, the CLI's output and error; 404.</summary>
public static class GetDeployment
{
    public sealed record Query(Guid Id) : IQuery<DeploymentEnvelope>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, DeploymentEnvelope>
    {
        private const string Select = $"SELECT {DeploymentRow.Columns} FROM fleet.deployments d WHERE d.id = @Id";

        public async Task<DeploymentEnvelope> Handle(Query query, CancellationToken cancellationToken) =>
            new((await db.QuerySingleOrDefaultAsync<DeploymentRow>(Select, new { query.Id }, cancellationToken)
                ?? throw new NotFoundException($"Deployment '{query.Id}' not found")).ToView());
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/deployments/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetDeployment))
                .WithTags(FleetRoutes.Deployments)
                .WithSummary("Deployment status and details")
                .ProducesErrors(400, 401, 403, 404);
    }
}
