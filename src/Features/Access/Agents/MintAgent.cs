using System.Text.Json;
using System.Text.Json.Serialization;
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

namespace Capstan.Features.Access.Agents;

/// <summary><c>POST /api/v1/agents</c> (seed 003) <c>{name, scope?, public_key?, public_key_algorithm?}</c>: mints an
/// agent identity. The response carries <c>agent_secret</c> this once; only its SHA-256 is stored. Names are unique
/// (409).</summary>
public static class MintAgent
{
    public sealed record Command(
        [property: JsonPropertyName("name")] string? Name,
        [property: JsonPropertyName("scope")] JsonElement? Scope,
        [property: JsonPropertyName("public_key")] string? PublicKey,
        [property: JsonPropertyName("public_key_algorithm")] string? PublicKeyAlgorithm) : ICommand<MintedAgent>;

    public sealed record MintedAgent(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("agent_secret")] string AgentSecret,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("scope")] JsonElement Scope,
        [property: JsonPropertyName("public_key_algorithm")] string? PublicKeyAlgorithm,
        [property: JsonPropertyName("created_at")] DateTime CreatedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Name).NotEmpty().WithMessage("name is required").MaximumLength(100)
                .Matches("^[A-Za-z0-9][A-Za-z0-9._:-]*$").WithMessage("name may contain letters, digits, '.', '_', ':' and '-' and must start with a letter or digit");
            RuleFor(command => command.Scope).Must(AccessJson.IsStringMap).WithMessage("scope must be an object of strings");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, MintedAgent>
    {
        private const string Taken = "SELECT EXISTS (SELECT 1 FROM access.agents WHERE name = @Name)";

        private const string Insert = """
            INSERT INTO access.agents (id, name, scope, secret_hash, public_key, public_key_algorithm, created_by)
            VALUES (@Id, @Name, CAST(@Scope AS jsonb), @SecretHash, @PublicKey, @Algorithm, @CreatedBy)
            RETURNING created_at
            """;

        public async Task<MintedAgent> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = command.Name!.Trim();
            byte[]? publicKey = null;
            string? algorithm = null;
            if (!string.IsNullOrEmpty(command.PublicKey))
            {
                publicKey = AgentKeys.Parse(command.PublicKey, command.PublicKeyAlgorithm);
                algorithm = "x25519";
            }

            if (await db.ExecuteScalarAsync<bool>(Taken, new { Name = name }, cancellationToken))
            {
                throw new ConflictException("An agent with this name already exists");
            }

            var id = Guid.CreateVersion7();
            var secret = SecretTokens.Generate();
            var scope = AccessJson.TextOf(command.Scope);
            var createdAt = await db.QuerySingleAsync<DateTime>(
                Insert,
                new { Id = id, Name = name, Scope = scope, SecretHash = SecretTokens.Hash(secret), PublicKey = publicKey, Algorithm = algorithm, CreatedBy = request.RequiredCaller.UserId },
                cancellationToken);
            audit.Record("agent.mint", "agent", id.ToString(), name, new { algorithm, public_key_sha = publicKey is null ? null : AgentKeys.Fingerprint(publicKey) });
            return new MintedAgent(id, name, secret, "active", AccessJson.Parse(scope), algorithm, createdAt);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var agent = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/agents/{agent.Id}", agent);
                })
                .RequirePermission(Permissions.AgentMint)
                .WithName(nameof(MintAgent))
                .WithTags(AccessRoutes.Agents)
                .WithSummary("Mint an agent (its secret is returned once)")
                .ProducesErrors(400, 401, 403, 409);
    }
}
