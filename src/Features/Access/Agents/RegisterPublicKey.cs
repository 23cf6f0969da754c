using System.Text.Json.Serialization;
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

namespace Capstan.Features.Access.Agents;

/// <summary><c>PUT /api/v1/agents/{id}/public-key</c> (seed 003, agent) <c>{public_key, public_key_algorithm?}</c>: the
/// agent registers (or replaces) its X25519 wire-envelope key; from then on values travel to it sealed. 204.</summary>
public static class RegisterPublicKey
{
    public sealed record Command(
        [property: JsonPropertyName("public_key")] string? PublicKey,
        [property: JsonPropertyName("public_key_algorithm")] string? PublicKeyAlgorithm) : ICommand<Unit>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.PublicKey).NotEmpty().WithMessage("public_key is required").MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit) : IRequestHandler<Command, Unit>
    {
        private const string Update = """
            UPDATE access.agents SET public_key = @PublicKey, public_key_algorithm = 'x25519', updated_at = now() WHERE id = @Id
            """;

        public async Task<Unit> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            var key = AgentKeys.Parse(command.PublicKey, command.PublicKeyAlgorithm);
            await db.ExecuteAsync(Update, new { agent.Id, PublicKey = key }, cancellationToken);
            audit.Record("agent.public_key.set", "agent", agent.Id.ToString(), agent.Name, new { algorithm = "x25519", public_key_sha = AgentKeys.Fingerprint(key) });
            return Unit.Value;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/agents/{id}/public-key", async (Guid id, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    await mediator.Send(command, cancellationToken);
                    return TypedResults.NoContent();
                })
                .RequireAgent()
                .WithName(nameof(RegisterPublicKey))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Register the agent's X25519 public key")
                .ProducesErrors(400, 401);
    }
}
