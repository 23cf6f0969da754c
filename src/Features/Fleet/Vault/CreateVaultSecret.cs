using System.Text;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
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

namespace Capstan.Features.Fleet.Vault;

/// <summary><c>POST /api/v1/secrets</c> (seed 004, OPERATOR): <c>{name ^[\w.-]+$ (1..256), description? (≤512), type?
/// ENV_VAR|FILE|CERTIFICATE|API_KEY, instanceId?, value, scope? (≤50), expiresAt?}</c> stores a vault secret, its value
/// envelope-encrypted, → 201 with its metadata (never the value). A name already used for the same instance (or
/// fleet-wide) is a 409; an unknown instance a 400.</summary>
public static class CreateVaultSecret
{
    public sealed record Command(
        string? Name, string? Description, string? Type, Guid? InstanceId, string? Value, string[]? Scope, DateTime? ExpiresAt) : ICommand<VaultSecretView>
    {
        public override string ToString() => $"CreateVaultSecret {{ Name = {Name}, Value = *** }}";
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(256).Matches(Vault.NamePattern)
                .WithMessage("name may hold letters, digits, '_', '.' and '-' only");
            RuleFor(command => command.Description).MaximumLength(512);
            RuleFor(command => command.Type).Must(type => FleetVocabulary.IsOneOf(type, Vault.Types)).When(command => command.Type is not null)
                .WithMessage($"type must be one of: {string.Join(", ", Vault.Types)}");
            RuleFor(command => command.Value).NotEmpty().Must(value => value is null || Encoding.UTF8.GetByteCount(value) <= Vault.MaxValueBytes)
                .WithMessage($"value must be 1 to {Vault.MaxValueBytes} bytes");
            RuleFor(command => command.Scope).Must(scope => scope is null || (scope.Length <= 50 && scope.All(item => !string.IsNullOrWhiteSpace(item) && item.Length <= 64)))
                .WithMessage("scope holds at most 50 non-empty entries of up to 64 characters");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, EnvelopeCipher cipher, AuditTrail audit, TimeProvider clock)
        : IRequestHandler<Command, VaultSecretView>
    {
        private const string Instance = $"SELECT i.name FROM fleet.instances i WHERE i.id = @InstanceId AND i.status <> 'DESTROYED' AND {FleetVisibility.Predicate}";

        private const string Insert = """
            INSERT INTO fleet.vault_secrets (id, name, description, type, instance_id, encrypted_value, scope, expires_at, created_by, created_at, updated_at)
            VALUES (@Id, @Name, @Description, @Type, @InstanceId, @Encrypted, @Scope, @ExpiresAt, @CreatedBy, @Now, @Now)
            ON CONFLICT (name, instance_id) DO NOTHING
            """;

        private const string Select = $"SELECT {VaultSecretRow.Columns} FROM fleet.vault_secrets s WHERE s.id = @Id";

        public async Task<VaultSecretView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            if (command.InstanceId is not null
                && await db.ExecuteScalarAsync<string>(Instance, new { command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken) is null)
            {
                throw BadRequestException.ForField("instanceId", $"Instance '{command.InstanceId}' not found");
            }

            var id = Guid.CreateVersion7();
            var name = command.Name!.Trim();
            var now = clock.GetUtcNow().UtcDateTime;
            var inserted = await db.ExecuteAsync(
                Insert,
                new
                {
                    Id = id,
                    Name = name,
                    command.Description,
                    Type = command.Type?.Trim().ToUpperInvariant() ?? "ENV_VAR",
                    command.InstanceId,
                    Encrypted = cipher.EncryptString(command.Value!, Vault.AssociatedData(id)),
                    Scope = (command.Scope ?? []).Select(item => item.Trim()).Distinct().ToArray(),
                    ExpiresAt = command.ExpiresAt?.ToUniversalTime(),
                    CreatedBy = caller.UserId,
                    Now = now,
                },
                cancellationToken);
            if (inserted == 0)
            {
                throw new ConflictException(command.InstanceId is null
                    ? $"A fleet-wide secret named '{name}' already exists"
                    : $"A secret named '{name}' already exists for instance '{command.InstanceId}'");
            }

            audit.Record("vault.secret.create", "vault_secret", id.ToString(), name, new { instance_id = command.InstanceId, type = command.Type });
            return (await db.QuerySingleAsync<VaultSecretRow>(Select, new { Id = id }, cancellationToken)).ToView(now);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/secrets", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var secret = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/secrets/{secret.Id}", secret);
                })
                .RequirePermission(Permissions.VaultEdit)
                .WithName(nameof(CreateVaultSecret))
                .WithTags(FleetRoutes.Vault)
                .WithSummary("Create a vault secret (value encrypted at rest, never returned)")
                .ProducesErrors(400, 401, 403, 409);
    }
}
