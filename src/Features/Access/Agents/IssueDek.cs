using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Access.Agents;

/// <summary><c>POST /api/v1/agents/{id}/dek</c> (seed 003, agent): a fresh 256-bit data key for the read flow — the
/// plaintext for the agent to encrypt one value with AES-256-GCM, and the same key wrapped by the master key and bound
/// to this agent (<c>ciphertext</c>), which the agent sends back with the value. 201.</summary>
public static class IssueDek
{
    public sealed record Command : ICommand<DataKey>;

    public sealed record DataKey(
        [property: JsonPropertyName("algorithm")] string Algorithm,
        [property: JsonPropertyName("plaintext")] string Plaintext,
        [property: JsonPropertyName("ciphertext")] string Ciphertext,
        [property: JsonPropertyName("kms_key_id")] string KmsKeyId);

    /// <summary>What binds a wrapped data key to the agent it was issued to.</summary>
    internal static string AssociatedData(Guid agentId) => $"access.dek:{agentId}";

    internal sealed class Handler(RequestContext request, AuditTrail audit, EnvelopeCipher cipher, MasterKey masterKey) : IRequestHandler<Command, DataKey>
    {
        public Task<DataKey> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            var key = RandomNumberGenerator.GetBytes(32);
            try
            {
                var wrapped = cipher.Encrypt(key, AssociatedData(agent.Id));
                audit.Record("agent.dek.issue", "agent", agent.Id.ToString(), agent.Name, new { kms_key_id = masterKey.CurrentId });
                return Task.FromResult(new DataKey("aes-256-gcm", Convert.ToBase64String(key), Convert.ToBase64String(wrapped), masterKey.CurrentId));
            }
            finally
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents/{id}/dek", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Created((string?)null, await mediator.Send(new Command(), cancellationToken)))
                .RequireAgent()
                .WithName(nameof(IssueDek))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Issue a data key for the read flow")
                .ProducesErrors(400, 401);
    }
}
