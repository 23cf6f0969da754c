using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Workflows;

/// <summary><c>GET /api/v1/workflows</c> (seed 003): every approval workflow, by name.</summary>
public static class ListWorkflows
{
    public sealed record Query : IQuery<IReadOnlyList<WorkflowBody>>;

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<WorkflowBody>>
    {
        private const string Select = $"SELECT {WorkflowRow.Columns} FROM access.workflows ORDER BY name";

        public async Task<IReadOnlyList<WorkflowBody>> Handle(Query query, CancellationToken cancellationToken) =>
            [.. (await db.QueryAsync<WorkflowRow>(Select, null, cancellationToken)).Select(row => row.ToBody())];
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/workflows", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListWorkflows))
                .WithTags(AccessRoutes.Workflows)
                .WithSummary("List approval workflows")
                .ProducesErrors(401, 403);
    }
}
