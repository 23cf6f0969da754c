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

namespace Capstan.Features.Access.Projects;

/// <summary><c>GET /api/v1/projects/{id}/environments</c> (seed 003): the project's environments by name; an unknown
/// project is a 404 (the upstream answered an empty list).</summary>
public static class ListProjectEnvironments
{
    public sealed record Query(Guid Id) : IQuery<IReadOnlyList<EnvironmentBody>>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<EnvironmentBody>>
    {
        private const string Exists = "SELECT EXISTS (SELECT 1 FROM access.projects WHERE id = @Id)";

        private const string Select = $"SELECT {EnvironmentBody.Columns} FROM access.environments WHERE project_id = @Id ORDER BY name, id";

        public async Task<IReadOnlyList<EnvironmentBody>> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QuerySingleAsync<bool>(Exists, new { query.Id }, cancellationToken)
                ? await db.QueryAsync<EnvironmentBody>(Select, new { query.Id }, cancellationToken)
                : throw new NotFoundException("project not found");
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/projects/{id}/environments", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListProjectEnvironments))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("List a project's environments")
                .ProducesErrors(400, 401, 403, 404);
    }
}
