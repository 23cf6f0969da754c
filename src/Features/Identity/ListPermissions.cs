using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary><c>GET /api/v1/permissions</c> (seed 003): the permission catalog as a bare array of
/// <c>{key, group, description}</c> in catalog order, cacheable for five minutes (it only changes with a release).</summary>
public static class ListPermissions
{
    public sealed record Query : IQuery<IReadOnlyList<PermissionView>>;

    public sealed record PermissionView(string Key, string Group, string Description);

    internal sealed class Handler : IRequestHandler<Query, IReadOnlyList<PermissionView>>
    {
        private static readonly IReadOnlyList<PermissionView> Catalog =
            [.. PermissionCatalog.All.Select(permission => new PermissionView(permission.Key, permission.Group, permission.Description))];

        public Task<IReadOnlyList<PermissionView>> Handle(Query query, CancellationToken cancellationToken) => Task.FromResult(Catalog);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/permissions", async (HttpResponse response, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var catalog = await mediator.Send(new Query(), cancellationToken);
                    response.Headers.CacheControl = "public, max-age=300";
                    return TypedResults.Ok(catalog);
                })
                .RequirePermission(Permissions.PermissionRead)
                .WithName(nameof(ListPermissions))
                .WithTags(IdentityRoutes.Roles)
                .WithSummary("The permission catalog")
                .ProducesErrors(401, 403);
    }
}
