using System.Security.Cryptography;
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

/// <summary><c>POST /api/v1/agents/{id}/wraps</c> (seed 003, agent), read flow: the agent holding the claim of an
/// approved read request's job uploads one fetched value, either <c>value</c> (base64) or <c>envelope</c> (AES-256-GCM
/// under a data key from <c>/dek</c>). The value is re-encrypted at rest under its own key and kept for the requester's
/// single retrieval (TTL <c>wrap_ttl_approved</c>). 201 with the wrap's metadata, never the value.</summary>
public static class PostWrap
{
    public const int MaxValueBytes = 64 * 1024;

    public sealed record Command(
        [property: JsonPropertyName("request_id")] Guid? RequestId,
        [property: JsonPropertyName("key_name")] string? KeyName,
        [property: JsonPropertyName("value")] string? Value,
        [property: JsonPropertyName("envelope")] AgentEnvelope? Envelope) : ICommand<CreatedWrap>;

    public sealed record AgentEnvelope(
        [property: JsonPropertyName("algorithm")] string? Algorithm,
        [property: JsonPropertyName("ciphertext")] string? Ciphertext,
        [property: JsonPropertyName("nonce")] string? Nonce,
        [property: JsonPropertyName("dek_ciphertext")] string? DekCiphertext,
        [property: JsonPropertyName("dek_kms_key_id")] string? DekKmsKeyId);

    public sealed record CreatedWrap(
        [property: JsonPropertyName("wrap_id")] Guid WrapId,
        [property: JsonPropertyName("request_id")] Guid RequestId,
        [property: JsonPropertyName("key_name")] string KeyName,
        [property: JsonPropertyName("byte_length")] long ByteLength,
        [property: JsonPropertyName("content_hash")] string ContentHash,
        [property: JsonPropertyName("expires_at")] DateTime ExpiresAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.RequestId).NotNull().WithMessage("request_id is required");
            RuleFor(command => command.KeyName).NotEmpty().WithMessage("key_name is required").MaximumLength(256);
            RuleFor(command => command.Value).Must((command, value) => (value is null) != (command.Envelope is null))
                .WithMessage("exactly one of value or envelope is required");
            RuleFor(command => command.Value).MaximumLength(MaxValueBytes * 2);
            When(command => command.Envelope is not null, () =>
            {
                RuleFor(command => command.Envelope!.Algorithm).Equal("aes-256-gcm").WithMessage("envelope.algorithm must be aes-256-gcm").OverridePropertyName("envelope.algorithm");
                RuleFor(command => command.Envelope!.Ciphertext).NotEmpty().MaximumLength(MaxValueBytes * 2).OverridePropertyName("envelope.ciphertext");
                RuleFor(command => command.Envelope!.Nonce).NotEmpty().OverridePropertyName("envelope.nonce");
                RuleFor(command => command.Envelope!.DekCiphertext).NotEmpty().MaximumLength(4096).OverridePropertyName("envelope.dek_ciphertext");
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, MasterKey masterKey)
        : IRequestHandler<Command, CreatedWrap>
    {
        private const string Target = """
            SELECT r.type, r.status, r.target_keys::text AS target_keys, f.wrap_ttl_approved_seconds,
                   EXISTS (SELECT 1 FROM access.jobs j WHERE j.id = r.job_id AND j.claimed_by = @AgentId AND j.status = 'claimed') AS claimed
            FROM access.requests r JOIN access.workflows f ON f.id = r.workflow_id
            WHERE r.id = @Id
            FOR SHARE OF r
            """;

        private const string Exists = "SELECT EXISTS (SELECT 1 FROM access.wraps WHERE request_id = @RequestId AND key_name = @KeyName)";

        private const string Insert = """
            INSERT INTO access.wraps (id, request_id, key_name, envelope, kms_key_id, content_hash, byte_length, origin, expires_at)
            VALUES (@Id, @RequestId, @KeyName, @Envelope, @KmsKeyId, @ContentHash, @ByteLength, 'agent', now() + make_interval(secs => @TtlSeconds))
            RETURNING expires_at
            """;

        public async Task<CreatedWrap> Handle(Command command, CancellationToken cancellationToken)
        {
            var agent = request.RequiredAgent;
            var requestId = command.RequestId!.Value;
            var keyName = command.KeyName!.Trim();
            audit.CorrelationId = requestId;
            var target = await db.QuerySingleOrDefaultAsync<TargetRow>(Target, new { Id = requestId, AgentId = agent.Id }, cancellationToken)
                ?? throw new NotFoundException("request not found");
            if (target.Type != "read")
            {
                throw BadRequestException.ForField("request_id", "wrap creation only supported for read requests");
            }

            if (target.Status != "approved")
            {
                throw new ConflictException($"request is not approved (it is {target.Status})");
            }

            if (!target.Claimed)
            {
                throw new ConflictException("the request's job is not claimed by this agent");
            }

            var keys = AccessJson.StringArray(target.TargetKeys);
            if (keys.Length > 0 && !keys.Contains(keyName, StringComparer.Ordinal))
            {
                throw BadRequestException.ForField("key_name", "key_name is not one of the request's target_keys");
            }

            if (await db.QuerySingleAsync<bool>(Exists, new { RequestId = requestId, KeyName = keyName }, cancellationToken))
            {
                throw new ConflictException("a wrap for this key already exists on the request");
            }

            var plaintext = command.Envelope is { } envelope ? Open(envelope, agent.Id) : Decode(command.Value!, "value");
            try
            {
                if (plaintext.Length > MaxValueBytes)
                {
                    throw BadRequestException.ForField("value", $"the value may be at most {MaxValueBytes} bytes");
                }

                var id = Guid.CreateVersion7();
                var hash = SHA256.HashData(plaintext);
                var expiresAt = await db.QuerySingleAsync<DateTime>(
                    Insert,
                    new
                    {
                        Id = id,
                        RequestId = requestId,
                        KeyName = keyName,
                        Envelope = cipher.Encrypt(plaintext, $"access.wraps:{id}"),
                        KmsKeyId = masterKey.CurrentId,
                        ContentHash = hash,
                        ByteLength = (long)plaintext.Length,
                        TtlSeconds = (double)target.WrapTtlApprovedSeconds,
                    },
                    cancellationToken);
                audit.Record("wrap.create", "wrap", id.ToString(), null, new
                {
                    request_id = requestId,
                    key_name = keyName,
                    byte_length = plaintext.Length,
                    content_hash = AccessJson.Hex(hash),
                    kms_key_id = masterKey.CurrentId,
                    ttl_seconds = target.WrapTtlApprovedSeconds,
                    transport = command.Envelope is null ? "plain" : "aes-256-gcm",
                });
                return new CreatedWrap(id, requestId, keyName, plaintext.Length, AccessJson.Hex(hash), expiresAt);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(plaintext);
            }
        }

        // The agent's envelope: the data key must be one /dek issued to this very agent.
        private byte[] Open(AgentEnvelope envelope, Guid agentId)
        {
            var ciphertext = Decode(envelope.Ciphertext!, "envelope.ciphertext");
            var nonce = Decode(envelope.Nonce!, "envelope.nonce");
            var wrappedKey = Decode(envelope.DekCiphertext!, "envelope.dek_ciphertext");
            if (nonce.Length != 12 || ciphertext.Length < 16)
            {
                throw BadRequestException.ForField("envelope", "envelope: the nonce must be 12 bytes and the ciphertext end with a 16-byte tag");
            }

            byte[] key;
            try
            {
                key = cipher.Decrypt(wrappedKey, IssueDek.AssociatedData(agentId));
            }
            catch (CryptographicException)
            {
                throw BadRequestException.ForField("envelope.dek_ciphertext", "envelope: the data key was not issued to this agent");
            }

            try
            {
                if (key.Length != 32)
                {
                    throw BadRequestException.ForField("envelope.dek_ciphertext", "envelope: the data key must be 32 bytes");
                }

                var plaintext = new byte[ciphertext.Length - 16];
                using var aes = new AesGcm(key, 16);
                aes.Decrypt(nonce, ciphertext.AsSpan(0, plaintext.Length), ciphertext.AsSpan(plaintext.Length), plaintext);
                return plaintext;
            }
            catch (CryptographicException)
            {
                throw BadRequestException.ForField("envelope.ciphertext", "envelope: the ciphertext does not open with the data key");
            }
            finally
            {
                CryptographicOperations.ZeroMemory(key);
            }
        }

        private static byte[] Decode(string base64, string field)
        {
            try
            {
                return Convert.FromBase64String(base64);
            }
            catch (FormatException)
            {
                throw BadRequestException.ForField(field, $"{field} is not valid base64");
            }
        }

        private sealed class TargetRow
        {
            public string Type { get; init; } = string.Empty;

            public string Status { get; init; } = string.Empty;

            public string TargetKeys { get; init; } = "[]";

            public long WrapTtlApprovedSeconds { get; init; }

            public bool Claimed { get; init; }
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/agents/{id}/wraps", async (Guid id, Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var wrap = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created((string?)null, wrap);
                })
                .RequireAgent()
                .WithName(nameof(PostWrap))
                .WithTags(AccessRoutes.AgentApi)
                .WithSummary("Upload a fetched value for a read request")
                .ProducesErrors(400, 401, 404, 409);
    }
}
