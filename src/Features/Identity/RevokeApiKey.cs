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

namespace Capstan.Features.Identity;

/// <summary><c>DELETE /api/v1/api-keys/{id}</c>: revokes one of the caller's keys (204; again is still 204). Another
/// user's key is a 404.</summary>
public static class RevokeApiKey
{
    public sealed record Command(Guid Id) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Unit>
    {
        private const string Revoke = """
            UPDATE identity.api_keys SET revoked_at = COALESCE(revoked_at, @Now)
            WHERE id = @Id AND user_id = @UserId
            RETURNING name
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>(
                Revoke, new { command.Id, request.RequiredCaller.UserId, Now = clock.GetUtcNow().UtcDateTime }, cancellationToken)
                ?? throw new NotFoundException("API key not found");
            audit.Record("api_key.revoke", "api_key", command.Id.ToString(), name);
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/api-keys/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(new Command(id), cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequirePermission(Permissions.ApiKeyManage)
                .WithName(nameof(RevokeApiKey))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Revoke one of your API keys")
                .ProducesErrors(400, 401, 403, 404);
    }
}
