using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Vault;

/// <summary><c>DELETE /api/v1/secrets/{id}</c> (seed 004, OPERATOR): deletes a vault secret and its value →
/// <c>{message: "Secret deleted", id, name}</c>; 404 when unknown, 409 for a discovered secret.</summary>
public static class DeleteVaultSecret
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    public sealed record Response(string Message, Guid Id, string Name);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var secret = await Vault.FindAsync(db, request.RequiredCaller, command.Id, forUpdate: true, cancellationToken);
            await db.ExecuteAsync("DELETE FROM fleet.vault_secrets WHERE id = @Id", new { command.Id }, cancellationToken);
            audit.Record("vault.secret.delete", "vault_secret", command.Id.ToString(), secret.Name, new { instance_id = secret.InstanceId });
            return new Response("Secret deleted", command.Id, secret.Name);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/secrets/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.VaultEdit)
                .WithName(nameof(DeleteVaultSecret))
                .WithTags(FleetRoutes.Vault)
                .WithSummary("Delete a vault secret")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
