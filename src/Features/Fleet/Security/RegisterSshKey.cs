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

namespace Capstan.Features.Fleet.Security;

/// <summary><c>POST /api/v1/security/ssh-keys</c> (seed 004): <c>{instanceId, fingerprint, comment?, keyType (1..32),
/// keyBits? (256..16384), expiresAt?, lastUsedAt?}</c> registers a key found on an instance, or updates the one with
/// that fingerprint → 201 when new, 200 when updated, with <c>{id, instanceId, fingerprint, keyType, keyBits, status,
/// isWeak}</c>. A revoked key stays revoked: registering it again is a 409. Unknown or unseen instance: 404.</summary>
public static class RegisterSshKey
{
    public sealed record Command(Guid? InstanceId, string? Fingerprint, string? Comment, string? KeyType, int? KeyBits, DateTime? ExpiresAt, DateTime? LastUsedAt)
        : ICommand<Response>;

    public sealed record Response(Guid Id, Guid InstanceId, string Fingerprint, string KeyType, long? KeyBits, string Status, bool IsWeak)
    {
        [System.Text.Json.Serialization.JsonIgnore]
        public bool Created { get; init; }
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.Fingerprint).NotEmpty().MaximumLength(256).Matches(@"^[A-Za-z0-9+/=:._-]+$")
                .WithMessage("fingerprint must be an SSH key fingerprint (e.g. SHA256:… or MD5 hex pairs)");
            RuleFor(command => command.Comment).MaximumLength(256);
            RuleFor(command => command.KeyType).NotEmpty().MaximumLength(32);
            RuleFor(command => command.KeyBits).InclusiveBetween(256, 16384).When(command => command.KeyBits is not null);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Instance = $"SELECT i.name FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate}";

        private const string Upsert = $"""
            INSERT INTO fleet.ssh_keys AS k (id, instance_id, fingerprint, comment, key_type, key_bits, status, last_used_at, expires_at, created_at, updated_at)
            VALUES (@Id, @InstanceId, @Fingerprint, @Comment, @KeyType, @KeyBits, 'ACTIVE', @LastUsedAt, @ExpiresAt, @Now, @Now)
            ON CONFLICT (instance_id, fingerprint) DO UPDATE
                SET comment = COALESCE(EXCLUDED.comment, k.comment), key_type = EXCLUDED.key_type, key_bits = COALESCE(EXCLUDED.key_bits, k.key_bits),
                    last_used_at = COALESCE(EXCLUDED.last_used_at, k.last_used_at), expires_at = COALESCE(EXCLUDED.expires_at, k.expires_at), updated_at = EXCLUDED.updated_at
                WHERE k.status <> 'REVOKED'
            RETURNING k.id, k.key_type, k.key_bits, CASE WHEN {SecurityRules.Expired} THEN 'EXPIRED' ELSE k.status END AS status, {SecurityRules.Weak} AS is_weak,
                      (k.xmax = 0) AS created
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var instance = await db.ExecuteScalarAsync<string>(Instance, new { command.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            var fingerprint = command.Fingerprint!.Trim();
            var saved = await db.QuerySingleOrDefaultAsync<Saved>(
                    Upsert,
                    new
                    {
                        Id = Guid.CreateVersion7(),
                        command.InstanceId,
                        Fingerprint = fingerprint,
                        command.Comment,
                        KeyType = command.KeyType!.Trim(),
                        KeyBits = (long?)command.KeyBits,
                        LastUsedAt = command.LastUsedAt?.ToUniversalTime(),
                        ExpiresAt = command.ExpiresAt?.ToUniversalTime(),
                        Now = clock.GetUtcNow().UtcDateTime,
                    },
                    cancellationToken)
                ?? throw new ConflictException($"SSH key {fingerprint} was revoked on this instance; a revoked key cannot be registered again");
            audit.Record("security.ssh_key.register", "ssh_key", saved.Id.ToString(), fingerprint, new { instance_id = command.InstanceId, instance, key_type = saved.KeyType });
            return new Response(saved.Id, command.InstanceId!.Value, fingerprint, saved.KeyType, saved.KeyBits, saved.Status, saved.IsWeak) { Created = saved.Created };
        }

        private sealed record Saved(Guid Id, string KeyType, long? KeyBits, string Status, bool IsWeak, bool Created);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/security/ssh-keys", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(command, cancellationToken);
                    return response.Created ? Results.Created((string?)null, response) : Results.Ok(response);
                })
                .RequirePermission(Permissions.SecurityManage)
                .WithName(nameof(RegisterSshKey))
                .WithTags(FleetRoutes.SshKeys)
                .WithSummary("Register an SSH key")
                .Produces<Response>(201)
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
