using System.Text.Json.Serialization;
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

namespace Capstan.Features.Access.Agents;

/// <summary><c>GET /api/v1/agents/{id}/wraps/{wrap_id}</c> (seed 003, agent), patch flow: the agent holding the claim
/// of an approved patch request's job fetches one value, once. The request state is checked before anything is
/// consumed (409); the wrap is consumed by one conditional update (410 when consumed or expired) and its ciphertext
/// erased. The value travels <c>sealed</c> (x25519-hkdf-aes-gcm) when the agent has registered a public key, else as
/// base64 <c>value</c>. One of the two places a secret value ever leaves the service.</summary>
public static class FetchWrap
{
    public sealed record Command(Guid WrapId) : ICommand<FetchedWrap>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.WrapId).NotEmpty();
    }

    public sealed record FetchedWrap(
        [property: JsonPropertyName("wrap_id")] Guid WrapId,
        [property: JsonPropertyName("request_id")] Guid RequestId,
        [property: JsonPropertyName("key_name")] string KeyName,
        [property: JsonPropertyName("value"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Value,
        [property: JsonPropertyName("sealed"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] SealedValue? Sealed,
        [property: JsonPropertyName("byte_length")] long ByteLength,
        [property: JsonPropertyName("content_hash")] string ContentHash,
        [property: JsonPropertyName("algorithm")] string Algorithm);

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, AccessMetrics metrics)
        : IRequestHandler<Command, FetchedWrap>
    {
        private const string Target = """
            SELECT w.request_id, r.status,
                   EXISTS (SELECT 1 FROM access.jobs j WHERE j.id = r.job_id AND j.claimed_by = @AgentId AND j.status = 'claimed') AS claimed
            FROM access.wraps w JOIN access.requests r ON r.id = w.request_id
            WHERE w.id = @WrapId AND w.origin = 'requester'
            """;

        private const string Consume = """
            WITH target AS (
                SELECT id, envelope FROM access.wraps
                WHERE id = @WrapId AND consumed_at IS NULL AND envelope IS NOT NULL AND expires_at > now()
                FOR UPDATE
            )
            UPDATE access.wraps w SET consumed_at = now(), consumed_by_agent = @AgentId, envelope = NULL
            FROM target WHERE w.id = target.id
            RETURNING w.id, w.request_id, w.key_name, target.envelope, w.content_hash, w.byte_length
            """;

        private const string State = "SELECT consumed_at IS NOT NULL FROM access.wraps WHERE id = @WrapId";

        private const string PublicKey = "SELECT public_key FROM access.agents WHERE id = @AgentId";

        public async Task<FetchedWrap> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            var target = await db.QuerySingleOrDefaultAsync<TargetRow>(Target, new { command.WrapId, AgentId = agent.Id }, cancellationToken)
                ?? throw new NotFoundException("wrap not found");
            audit.CorrelationId = target.RequestId;
            if (target.Status != "approved")
            {
                throw new ConflictException($"owning request is not approved (it is {target.Status})");
            }

            if (!target.Claimed)
            {
                throw new ConflictException("the request's job is not claimed by this agent");
            }

            var wrap = await db.QuerySingleOrDefaultAsync<ConsumedWrap>(Consume, new { command.WrapId, AgentId = agent.Id }, cancellationToken);
            if (wrap is null)
            {
                var consumed = await db.QuerySingleAsync<bool>(State, new { command.WrapId }, cancellationToken);
                var kind = consumed ? "already_consumed" : "expired";
                metrics.Retrieved("agent", kind);
                await audit.WriteNowAsync(
                    new AuditEntry("wrap.retrieve", "wrap", command.WrapId.ToString(), null, new { request_id = target.RequestId, error_kind = kind }) { Result = AuditResult.Denied },
                    cancellationToken);
                throw new GoneException(consumed ? "wrap already consumed" : "wrap expired", kind);
            }

            var plaintext = cipher.Decrypt(wrap.Envelope, $"access.wraps:{wrap.Id}");
            try
            {
                var publicKey = await db.QuerySingleOrDefaultAsync<byte[]?>(PublicKey, new { AgentId = agent.Id }, cancellationToken);
                var sealedValue = publicKey is { Length: WireSealing.KeyLength } ? WireSealing.Seal(plaintext, publicKey) : null;
                audit.Record("wrap.retrieve", "wrap", wrap.Id.ToString(), null, new
                {
                    request_id = wrap.RequestId,
                    key_name = wrap.KeyName,
                    byte_length = wrap.ByteLength,
                    by = "agent",
                    transport = sealedValue is null ? "plain" : WireSealing.Algorithm,
                });
                metrics.Retrieved("agent", "ok");
                return new FetchedWrap(
                    wrap.Id, wrap.RequestId, wrap.KeyName, sealedValue is null ? Convert.ToBase64String(plaintext) : null, sealedValue, wrap.ByteLength,
                    AccessJson.Hex(wrap.ContentHash), "AES-256-GCM");
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(plaintext);
            }
        }

        private sealed class TargetRow
        {
            public Guid RequestId { get; init; }

            public string Status { get; init; } = string.Empty;

            public bool Claimed { get; init; }
        }

        private sealed class ConsumedWrap
        {
            public Guid Id { get; init; }

            public Guid RequestId { get; init; }

            public string KeyName { get; init; } = string.Empty;

            public byte[] Envelope { get; init; } = [];

            public byte[] ContentHash { get; init; } = [];

            public long ByteLength { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/agents/{id}/wraps/{wrap_id}", async (
                        Guid id, [Microsoft.AspNetCore.Mvc.FromRoute(Name = "wrap_id")] Guid wrapId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(wrapId), cancellationToken)))
                .RequireAgent()
                .WithName(nameof(FetchWrap))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Fetch a patch request's value, once")
                .ProducesErrors(400, 401, 404, 409, 410);
    }
}
