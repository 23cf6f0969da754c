using System.Text;
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

/// <summary><c>POST /api/v1/secrets/{id}/rotate</c> (seed 004, OPERATOR): <c>{value}</c> replaces a vault secret's value
/// (re-encrypted under a fresh data key) → its metadata with the new <c>lastRotatedAt</c> and version; 404 when
/// unknown, 409 for a discovered secret.</summary>
public static class RotateVaultSecret
{
    public sealed record Body(string? Value)
    {
        public override string ToString() => "RotateVaultSecret.Body { Value = *** }";
    }

    public sealed record Command(Guid Id, string? Value) : ICommand<VaultSecretView>
    {
        public override string ToString() => $"RotateVaultSecret {{ Id = {Id}, Value = *** }}";
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            RuleFor(command => command.Value).NotEmpty().Must(value => value is null || Encoding.UTF8.GetByteCount(value) <= Vault.MaxValueBytes)
                .WithMessage($"value must be 1 to {Vault.MaxValueBytes} bytes");
    }

    internal sealed class Handler(DbSession db, RequestContext request, EnvelopeCipher cipher, AuditTrail audit, TimeProvider clock)
        : IRequestHandler<Command, VaultSecretView>
    {
        private const string Rotate = $"""
            UPDATE fleet.vault_secrets s SET encrypted_value = @Encrypted, version = version + 1, last_rotated_at = @Now, updated_at = @Now
            WHERE s.id = @Id
            RETURNING {VaultSecretRow.Columns}
            """;

        public async Task<VaultSecretView> Handle(Command command, CancellationToken cancellationToken)
        {
            var secret = await Vault.FindAsync(db, request.RequiredCaller, command.Id, forUpdate: true, cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            var row = await db.QuerySingleAsync<VaultSecretRow>(
                Rotate, new { command.Id, Encrypted = cipher.EncryptString(command.Value!, Vault.AssociatedData(command.Id)), Now = now }, cancellationToken);
            audit.Record("vault.secret.rotate", "vault_secret", command.Id.ToString(), secret.Name, new { version = row.Version });
            return row.ToView(now);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/secrets/{id}/rotate", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body.Value), cancellationToken)))
                .RequirePermission(Permissions.VaultEdit)
                .WithName(nameof(RotateVaultSecret))
                .WithTags(FleetRoutes.Vault)
                .WithSummary("Rotate a vault secret's value")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
