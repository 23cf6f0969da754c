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

/// <summary><c>PUT /api/v1/secrets/{id}</c> (seed 004, OPERATOR): <c>{description?, type?, value?, scope?, expiresAt?}</c>
/// changes a vault secret; a new value is re-encrypted and counts as a rotation (<c>lastRotatedAt</c>, version + 1).
/// 404 when unknown, 409 for a discovered secret (read-only here).</summary>
public static class UpdateVaultSecret
{
    public sealed record Body(string? Description, string? Type, string? Value, string[]? Scope, DateTime? ExpiresAt)
    {
        public override string ToString() => "UpdateVaultSecret.Body { Value = *** }";
    }

    public sealed record Command(Guid Id, Body Body) : ICommand<VaultSecretView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Body.Description).MaximumLength(512).OverridePropertyName("description");
            RuleFor(command => command.Body.Type).Must(type => FleetVocabulary.IsOneOf(type, Vault.Types)).When(command => command.Body.Type is not null)
                .OverridePropertyName("type").WithMessage($"type must be one of: {string.Join(", ", Vault.Types)}");
            RuleFor(command => command.Body.Value).Must(value => value is null || (value.Length > 0 && Encoding.UTF8.GetByteCount(value) <= Vault.MaxValueBytes))
                .OverridePropertyName("value").WithMessage($"value must be 1 to {Vault.MaxValueBytes} bytes");
            RuleFor(command => command.Body.Scope).Must(scope => scope is null || (scope.Length <= 50 && scope.All(item => !string.IsNullOrWhiteSpace(item) && item.Length <= 64)))
                .OverridePropertyName("scope").WithMessage("scope holds at most 50 non-empty entries of up to 64 characters");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, EnvelopeCipher cipher, AuditTrail audit, TimeProvider clock)
        : IRequestHandler<Command, VaultSecretView>
    {
        private const string Update = $"""
            UPDATE fleet.vault_secrets s SET
                description = COALESCE(@Description, description), type = COALESCE(@Type, type), scope = COALESCE(@Scope, scope),
                expires_at = COALESCE(@ExpiresAt, expires_at),
                encrypted_value = COALESCE(@Encrypted, encrypted_value),
                version = version + CASE WHEN @Encrypted IS NULL THEN 0 ELSE 1 END,
                last_rotated_at = CASE WHEN @Encrypted IS NULL THEN last_rotated_at ELSE @Now END,
                updated_at = @Now
            WHERE s.id = @Id
            RETURNING {VaultSecretRow.Columns}
            """;

        public async Task<VaultSecretView> Handle(Command command, CancellationToken cancellationToken)
        {
            var existing = await Vault.FindAsync(db, request.RequiredCaller, command.Id, forUpdate: true, cancellationToken);
            var body = command.Body;
            var now = clock.GetUtcNow().UtcDateTime;
            var row = await db.QuerySingleAsync<VaultSecretRow>(
                Update,
                new
                {
                    command.Id,
                    body.Description,
                    Type = body.Type?.Trim().ToUpperInvariant(),
                    Scope = body.Scope?.Select(item => item.Trim()).Distinct().ToArray(),
                    ExpiresAt = body.ExpiresAt?.ToUniversalTime(),
                    Encrypted = body.Value is null ? null : cipher.EncryptString(body.Value, Vault.AssociatedData(command.Id)),
                    Now = now,
                },
                cancellationToken);
            audit.Record("vault.secret.update", "vault_secret", command.Id.ToString(), existing.Name, new { value_changed = body.Value is not null });
            return row.ToView(now);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/secrets/{id}", async (Guid id, Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body), cancellationToken)))
                .RequirePermission(Permissions.VaultEdit)
                .WithName(nameof(UpdateVaultSecret))
                .WithTags(FleetRoutes.Vault)
                .WithSummary("Update a vault secret (a new value is a rotation)")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
