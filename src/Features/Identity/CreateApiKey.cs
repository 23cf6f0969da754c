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

namespace Capstan.Features.Identity;

/// <summary><c>POST /api/v1/api-keys</c> (DESIGN §3): <c>{name, expiresInDays? | expiresAt?, role?}</c> → 201 with the
/// key, shown this once (only its SHA-256 is kept). A key may be limited to a role below the caller's; it is accepted
/// as <c>Authorization: Bearer</c> or <c>X-Api-Key</c>.</summary>
public static class CreateApiKey
{
    public const string Prefix = "cap_";

    public sealed record Command(string? Name, int? ExpiresInDays, DateTimeOffset? ExpiresAt, string? Role) : ICommand<Response>;

    public sealed record Response(Guid Id, string Name, string KeyPrefix, string Role, DateTime CreatedAt, DateTime? ExpiresAt, string Key);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator(RequestContext request, TimeProvider clock)
        {
            RuleFor(command => command.Name).NotEmpty().MaximumLength(100);
            RuleFor(command => command.ExpiresInDays).InclusiveBetween(1, 3650);
            RuleFor(command => command.ExpiresAt).Must(at => at > clock.GetUtcNow()).When(command => command.ExpiresAt is not null)
                .WithMessage("expiresAt must be in the future");
            RuleFor(command => command).Must(command => command.ExpiresAt is null || command.ExpiresInDays is null)
                .OverridePropertyName("expiresAt").WithMessage("Give expiresInDays or expiresAt, not both");
            RuleFor(command => command.Role).Must(BaseRoles.IsValid).When(command => command.Role is not null)
                .WithMessage($"role must be one of: {BaseRoles.AcceptedValues}");
            RuleFor(command => command.Role)
                .Must(role => request.Caller is null || BaseRoles.Parse(role!) <= request.Caller.Role)
                .When(command => BaseRoles.IsValid(command.Role))
                .WithMessage("A key cannot carry a role above your own");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Insert = """
            INSERT INTO identity.api_keys (id, user_id, name, key_hash, key_prefix, role, created_at, expires_at)
            VALUES (@Id, @UserId, @Name, @Hash, @KeyPrefix, @Role, @Now, @ExpiresAt)
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var now = clock.GetUtcNow();
            var key = SecretTokens.Generate(Prefix);
            var id = Guid.CreateVersion7();
            var role = command.Role is null ? (BaseRole?)null : BaseRoles.Parse(command.Role);
            var expiresAt = command.ExpiresAt?.UtcDateTime ?? (command.ExpiresInDays is { } days ? now.AddDays(days).UtcDateTime : (DateTime?)null);
            var prefix = key[..12];
            await db.ExecuteAsync(
                Insert,
                new { Id = id, caller.UserId, Name = command.Name!.Trim(), Hash = SecretTokens.Hash(key), KeyPrefix = prefix, Role = role?.Name(), Now = now.UtcDateTime, ExpiresAt = expiresAt },
                cancellationToken);
            audit.Record("api_key.create", "api_key", id.ToString(), command.Name, new { role = role?.Name(), expires_at = expiresAt, prefix });
            return new Response(id, command.Name.Trim(), prefix, (role ?? caller.Role).Name(), now.UtcDateTime, expiresAt, key);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/api-keys", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var created = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/api-keys/{created.Id}", created);
                })
                .RequirePermission(Permissions.ApiKeyManage)
                .WithName(nameof(CreateApiKey))
                .WithTags(IdentityRoutes.Auth)
                .WithSummary("Create an API key (returned once)")
                .ProducesErrors(400, 401, 403);
    }
}
