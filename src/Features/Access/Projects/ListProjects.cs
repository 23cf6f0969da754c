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

/// <summary><c>GET /api/v1/projects</c> (seed 003): projects, oldest first, optionally by <c>status</c>.</summary>
public static class ListProjects
{
    public sealed record Query(string? Status) : IQuery<IReadOnlyList<ProjectBody>>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Status).Must(status => status is null or "active" or "archived").WithMessage("status must be active or archived");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<ProjectBody>>
    {
        private const string Select = $"""
            SELECT {ProjectBody.Columns} FROM access.projects
            WHERE (@Status::text IS NULL OR status = @Status)
            ORDER BY created_at, id
            """;

        public async Task<IReadOnlyList<ProjectBody>> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QueryAsync<ProjectBody>(Select, new { query.Status }, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/projects", async (string? status, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(status), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListProjects))
                .WithTags(AccessRoutes.Tenancy)
                .WithSummary("List projects")
                .ProducesErrors(400, 401, 403);
    }
}
