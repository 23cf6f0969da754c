using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity.AuthProviders;

/// <summary><c>GET /api/v1/admin/auth-providers</c> (seed 000): <c>{providers, total}</c>, by name, every client secret
/// shown as <c>"***"</c>.</summary>
public static class ListAuthProviders
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<AuthProviderView> Providers, int Total);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string List = $"SELECT {SsoProvider.Columns} FROM identity.auth_providers ORDER BY name, id";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var providers = await db.QueryAsync<SsoProvider>(List, null, cancellationToken);
            return new Response([.. providers.Select(AuthProviderView.From)], providers.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/admin/auth-providers", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.AuthProviderManage)
                .WithName(nameof(ListAuthProviders))
                .WithTags(IdentityRoutes.Admin)
                .WithSummary("List sign-in providers (client secrets redacted)")
                .ProducesErrors(401, 403);
    }
}
