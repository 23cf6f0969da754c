using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity.Accounts;

/// <summary><c>PUT /v1/api/profile</c> (seed 002, KubeOrch §4): <c>{name}</c> → the profile in the shape of
/// <c>GET /v1/api/profile</c>. 400 <c>Name is required</c>.</summary>
public static class UpdateProfile
{
    public sealed record Command(string? Name) : ICommand<Response>;

    public sealed record Response(ProfileView User);

    public sealed record ProfileView(Guid Id, string Username, string? Email, string Name, string Role, DateTime CreatedAt, string? AvatarUrl, string AuthProvider);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Name).NotEmpty().WithMessage("Name is required").MaximumLength(200);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Update = """
            UPDATE identity.users SET name = @Name, updated_at = @Now WHERE id = @UserId
            RETURNING id, username, email, name, role, created_at, avatar_url, auth_provider
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var profile = await db.QuerySingleOrDefaultAsync<ProfileView>(
                Update, new { Name = command.Name!.Trim(), caller.UserId, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken)
                ?? throw new NotFoundException("User not found");
            audit.Record("profile.update", "user", caller.UserId.ToString(), caller.Username, new { fields = new[] { "name" } });
            return new Response(profile);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/v1/api/profile", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.ProfileEdit)
                .WithName(nameof(UpdateProfile))
                .WithTags(IdentityRoutes.Users)
                .WithSummary("Change your display name")
                .ProducesErrors(400, 401, 403);
    }
}
