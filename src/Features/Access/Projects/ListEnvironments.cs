using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Projects;

/// <summary><c>GET /api/v1/environments</c> (seed 003): every environment by project and name, optionally of one
/// <c>project_id</c> or <c>kind</c>.</summary>
public static class ListEnvironments
{
    public sealed record Query(Guid? ProjectId, string? Kind) : IQuery<IReadOnlyList<EnvironmentBody>>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Kind).Must(kind => kind is null or "non_prod" or "prod").WithMessage("kind must be non_prod or prod");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<EnvironmentBody>>
    {
        private const string Select = $"""
            SELECT {EnvironmentBody.Columns} FROM access.environments
            WHERE (@ProjectId::uuid IS NULL OR project_id = @ProjectId) AND (@Kind::text IS NULL OR kind = @Kind)
            ORDER BY project_id, name, id
            """;

        public async Task<IReadOnlyList<EnvironmentBody>> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QueryAsync<EnvironmentBody>(Select, new { query.ProjectId, query.Kind }, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/environments", async (
                        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "project_id")] Guid? projectId, string? kind, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(projectId, kind), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListEnvironments))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("List environments")
                .ProducesErrors(400, 401, 403);
    }
}
