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

namespace Capstan.Features.Identity.AuthProviders;

/// <summary><c>DELETE /api/v1/admin/auth-providers/{id}</c> (seed 000): removes the provider, the accounts linked
/// through it and its sign-ins in flight → <c>{success, linkedAccountsRemoved}</c>. The users it provisioned stay (an
/// admin removes them separately). 404 <c>Provider not found</c>.</summary>
public static class DeleteAuthProvider
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(bool Success, int LinkedAccountsRemoved);

    internal sealed class Validator : AbstractValidator<Command>
    {
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        private const string Delete = """
            WITH accounts AS (DELETE FROM identity.external_accounts WHERE provider_id = @Id RETURNING 1),
                 states AS (DELETE FROM identity.oauth_states WHERE provider_id = @Id RETURNING 1),
                 provider AS (DELETE FROM identity.auth_providers WHERE id = @Id RETURNING name, type)
            SELECT name, type, (SELECT count(*) FROM accounts) AS accounts FROM provider
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var deleted = await db.QuerySingleOrDefaultAsync<Deleted>(Delete, new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Provider not found");
            audit.Record("auth_provider.delete", "auth_provider", command.Id.ToString(), deleted.Name, new { deleted.Type, linked_accounts_removed = deleted.Accounts });
            return new Response(true, (int)deleted.Accounts);
        }

        private sealed record Deleted(string Name, string Type, long Accounts);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/admin/auth-providers/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.AuthProviderManage)
                .WithName(nameof(DeleteAuthProvider))
                .WithTags(IdentityRoutes.Admin)
                .WithSummary("Delete a sign-in provider and the accounts linked through it")
                .ProducesErrors(400, 401, 403, 404);
    }
}
