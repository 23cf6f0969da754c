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

/// <summary><c>GET /api/v1/argocd-endpoints</c> (seed 003; GitOps feature): endpoints not deleted, by name.</summary>
public static class ListArgoCdEndpoints
{
    public sealed record Query : IQuery<IReadOnlyList<ArgoCdEndpointBody>>;

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<ArgoCdEndpointBody>>
    {
        private const string Select = $"SELECT {ArgoCdEndpointBody.Columns} FROM access.argocd_endpoints WHERE deleted_at IS NULL ORDER BY name";

        public async Task<IReadOnlyList<ArgoCdEndpointBody>> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QueryAsync<ArgoCdEndpointBody>(Select, null, cancellationToken);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/argocd-endpoints", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequireFeature(AccessRoutes.GitOpsFeature)
                .RequirePermission(Permissions.AccessRead)
                .WithName(nameof(ListArgoCdEndpoints))
                .WithTags(AccessRoutes.GitOps)
                .WithSummary("List ArgoCD endpoints")
                .ProducesErrors(401, 403, 404);
    }
}
