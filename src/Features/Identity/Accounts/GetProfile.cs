using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity.Accounts;

/// <summary><c>GET /v1/api/profile</c> (seed 002, KubeOrch §4): the caller's own profile →
/// <c>{user:{id, username, email, name, role, createdAt, avatarUrl, authProvider}}</c>.</summary>
public static class GetProfile
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(ProfileView User);

    public sealed record ProfileView(Guid Id, string Username, string? Email, string Name, string Role, DateTime CreatedAt, string? AvatarUrl, string AuthProvider);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Load = """
            SELECT id, username, email, name, role, created_at, avatar_url, auth_provider FROM identity.users WHERE id = @UserId
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(await db.QuerySingleOrDefaultAsync<ProfileView>(Load, new { request.RequiredCaller.UserId }, cancellationToken)
                ?? throw new NotFoundException("User not found"));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/profile", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.ProfileEdit)
                .WithName(nameof(GetProfile))
                .WithTags(IdentityRoutes.Users)
                .WithSummary("Your profile")
                .ProducesErrors(401, 403);
    }
}
