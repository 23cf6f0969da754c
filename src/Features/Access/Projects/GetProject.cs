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

/// <summary><c>GET /api/v1/projects/{id}</c> (seed 003): one project.</summary>
public static class GetProject
{
    public sealed record Query(Guid Id) : IQuery<ProjectBody>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, ProjectBody>
    {
        private const string Select = $"SELECT {ProjectBody.Columns} FROM access.projects WHERE id = @Id";

        public async Task<ProjectBody> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QuerySingleOrDefaultAsync<ProjectBody>(Select, new { query.Id }, cancellationToken) ?? throw new NotFoundException("project not found");
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/projects/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(GetProject))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("Get a project")
                .ProducesErrors(400, 401, 403, 404);
    }
}
