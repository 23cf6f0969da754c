using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity.AuthProviders;

/// <summary><c>GET /api/v1/admin/auth-providers/{id}</c> (seed 000): <c>{provider}</c> with the secret shown as
/// <c>"***"</c>; 404 <c>Provider not found</c>.</summary>
public static class GetAuthProvider
{
    public sealed record Query(Guid Id) : IQuery<Response>;

    public sealed record Response(AuthProviderView Provider);

    internal sealed class Validator : AbstractValidator<Query>
    {
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var provider = await SsoProvider.FindAsync(db, query.Id, cancellationToken) ?? throw new NotFoundException("Provider not found");
            return new Response(AuthProviderView.From(provider));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/admin/auth-providers/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.AuthProviderManage)
                .WithName(nameof(GetAuthProvider))
                .WithTags(IdentityRoutes.Admin)
                .WithSummary("Show a sign-in provider (client secret redacted)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
