using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary><c>GET /api/v1/rbac/policies</c> (seed 001): every Flux RBAC policy (the three defaults first) with its
/// rules, Gyre's single-rule fields where they apply, and who it is bound to on which cluster.</summary>
public static class ListFluxPolicies
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<FluxPolicyView> Policies, int Total);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var policies = await FluxPolicyShapes.LoadAsync(db, null, cancellationToken);
            return new Response(policies, policies.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/rbac/policies", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FluxRbacRead)
                .WithName(nameof(ListFluxPolicies))
                .WithTags(FluxPolicyShapes.Tag)
                .WithSummary("List Flux RBAC policies")
                .ProducesErrors(401, 403);
    }
}
