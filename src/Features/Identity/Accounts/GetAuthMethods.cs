using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Settings;
using Capstan.Infrastructure.Sso;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity.Accounts;

/// <summary>
/// <c>GET /v1/api/auth/methods</c> (seed 002, KubeOrch §4): what a login page offers →
/// <c>{builtin:{enabled, signupEnabled, inviteRequired}, providers:[{id, name, displayName, icon, type}]}</c>.
/// <c>enabled</c> and <c>signupEnabled</c> follow <c>localLoginEnabled</c> (registration is open, or by invite code);
/// <c>inviteRequired</c> is true while <c>allowSignup</c> is off and someone has registered. Only enabled providers
/// are listed, never their settings.
/// </summary>
public static class GetAuthMethods
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(Builtin Builtin, IReadOnlyList<Provider> Providers);

    public sealed record Builtin(bool Enabled, bool SignupEnabled, bool InviteRequired);

    public sealed record Provider(Guid Id, string Name, string DisplayName, string Icon, string Type);

    internal sealed class Handler(DbSession db, AuthSettings settings) : IRequestHandler<Query, Response>
    {
        private const string Providers = "SELECT id, name, type FROM identity.auth_providers WHERE enabled ORDER BY name, id";

        private const string AnyUser = "SELECT EXISTS (SELECT 1 FROM identity.users)";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var policy = await settings.ReadPolicyAsync(db, cancellationToken);
            var anyUser = await db.ExecuteScalarAsync<bool>(AnyUser, null, cancellationToken);
            var providers = await db.QueryAsync<(Guid Id, string Name, string Type)>(Providers, null, cancellationToken);
            return new Response(
                new Builtin(policy.LocalLoginEnabled, policy.LocalLoginEnabled, !policy.AllowSignup && anyUser),
                [.. providers.Select(provider => new Provider(provider.Id, provider.Name, provider.Name, SsoProviderTypes.Icon(provider.Type), provider.Type))]);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/auth/methods", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .AllowAnonymous() // public by design: the login page asks before anyone is signed in
                .WithName(nameof(GetAuthMethods))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("The sign-in methods a login page offers");
    }
}
