using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
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

/// <summary><c>GET /api/v1/secrets/{id}/value</c> (seed 004, ADMIN): the one route that returns a vault value,
/// decrypted → <c>{id, name, value, version}</c> with <c>Cache-Control: no-store</c>. A command, so every reveal writes
/// its audit row (who, which secret, which version — never the value) in the same transaction. 404 when unknown, 409
/// for a discovered secret.</summary>
public static class RevealVaultSecret
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    public sealed record Response(Guid Id, string Name, string Value, long Version)
    {
        public override string ToString() => $"RevealVaultSecret.Response {{ Id = {Id}, Value = *** }}";
    }

    internal sealed class Handler(DbSession db, RequestContext request, EnvelopeCipher cipher, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var secret = await Vault.FindAsync(db, request.RequiredCaller, command.Id, forUpdate: false, cancellationToken);
            var encrypted = await db.ExecuteScalarAsync<byte[]>("SELECT encrypted_value FROM fleet.vault_secrets WHERE id = @Id", new { command.Id }, cancellationToken);
            var value = cipher.DecryptString(encrypted!, Vault.AssociatedData(command.Id));
            audit.Record("vault.secret.reveal", "vault_secret", command.Id.ToString(), secret.Name, new { version = secret.Version, instance_id = secret.InstanceId });
            return new Response(command.Id, secret.Name, value, secret.Version);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/secrets/{id}/value", async (Guid id, HttpContext context, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(new Command(id), cancellationToken);
                    context.Response.Headers.CacheControl = "no-store";
                    return TypedResults.Ok(response);
                })
                .RequirePermission(Permissions.VaultReveal)
                .WithName(nameof(RevealVaultSecret))
                .WithTags(FleetRoutes.Vault)
                .WithSummary("Reveal a vault secret's decrypted value (ADMIN; audited)")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
