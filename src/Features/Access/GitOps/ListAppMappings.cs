using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.GitOps;

/// <summary><c>GET /api/v1/gitops-app-mappings</c> (seed 003; GitOps feature): mappings not deleted, by application.</summary>
public static class ListAppMappings
{
    public sealed record Query : IQuery<IReadOnlyList<AppMappingBody>>;

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<AppMappingBody>>
    {
        private const string Select = $"SELECT {AppMappingBody.Columns} FROM access.gitops_app_mappings WHERE deleted_at IS NULL ORDER BY application_name, id";

        public async Task<IReadOnlyList<AppMappingBody>> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QueryAsync<AppMappingBody>(Select, null, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/gitops-app-mappings", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListAppMappings))
                .WithTags(AccessRoutes.GitOps)
                .WithSummary("List GitOps application mappings")
                .ProducesErrors(401, 403, 404);
    }
}
