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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Access.Requests;

/// <summary><c>GET /api/v1/requests/{id}/wraps/{wrap_id}?user_id=</c> (seed 003): the requester of a read request
/// retrieves one value, once. The request must be <c>approved</c> or <c>executed</c> (checked before anything is
/// consumed, else 409); the wrap is consumed by one conditional update (410 when already consumed or expired) and its
/// ciphertext erased. One of the two places a secret value ever leaves the service. Rate limited per user.</summary>
public static class RetrieveRequestWrap
{
    public sealed record Command(Guid Id, Guid WrapId, string? UserId) : ICommand<RetrievedValue>;

    public sealed record RetrievedValue(
        [property: JsonPropertyName("wrap_id")] Guid WrapId,
        [property: JsonPropertyName("request_id")] Guid RequestId,
        [property: JsonPropertyName("key_name")] string KeyName,
        [property: JsonPropertyName("value")] string Value,
        [property: JsonPropertyName("byte_length")] long ByteLength,
        [property: JsonPropertyName("content_hash")] string ContentHash,
        [property: JsonPropertyName("algorithm")] string Algorithm);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.UserId).MaximumLength(100).OverridePropertyName("user_id");
    }

    internal sealed class Handler(
        DbSession db, RequestContext request, AuditTrail audit, EnvelopeCipher cipher, RateLimiter rateLimiter, IConfiguration configuration, AccessMetrics metrics)
        : IRequestHandler<Command, RetrievedValue>
    {
        private const string Request = "SELECT requester_id, type, status FROM access.requests WHERE id = @Id";

        private const string Consume = """
            WITH target AS (
                SELECT id, envelope FROM access.wraps
                WHERE id = @WrapId AND request_id = @RequestId AND consumed_at IS NULL AND envelope IS NOT NULL AND expires_at > now()
                FOR UPDATE
            )
            UPDATE access.wraps w SET consumed_at = now(), consumed_by_user = @UserId, envelope = NULL
            FROM target WHERE w.id = target.id
            RETURNING w.id, w.key_name, target.envelope, w.content_hash, w.byte_length
            """;

        private const string State = "SELECT consumed_at IS NOT NULL FROM access.wraps WHERE id = @WrapId AND request_id = @RequestId";

        public async Task<RetrievedValue> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            request.CallerIdMatching(command.UserId, "user_id");
            audit.CorrelationId = command.Id;
            await rateLimiter.EnforceAsync(
                $"access.wrap-retrieve:{caller.UserId}",
                new RateLimitRule(configuration.GetValue("Access:WrapRetrieveRateLimit:PermitPerMinute", 20), TimeSpan.FromMinutes(1)),
                cancellationToken);

            var owner = await db.QuerySingleOrDefaultAsync<RequestState>(Request, new { command.Id }, cancellationToken);
            if (owner is null || owner.RequesterId != caller.UserId)
            {
                throw new NotFoundException("request not found");
            }

            if (owner.Type != "read")
            {
                throw new NotFoundException("wrap not found");
            }

            if (owner.Status is not ("approved" or "executed"))
            {
                throw new ConflictException($"request not retrievable in its current state ({owner.Status})");
            }

            var wrap = await db.QuerySingleOrDefaultAsync<ConsumedWrap>(Consume, new { command.WrapId, RequestId = command.Id, UserId = caller.UserId }, cancellationToken);
            if (wrap is null)
            {
                var consumed = await db.QuerySingleOrDefaultAsync<bool?>(State, new { command.WrapId, RequestId = command.Id }, cancellationToken)
                    ?? throw new NotFoundException("wrap not found");
                var kind = consumed ? "already_consumed" : "expired";
                metrics.Retrieved("requester", kind);
                await audit.WriteNowAsync(
                    new AuditEntry("wrap.retrieve", "wrap", command.WrapId.ToString(), null, new { request_id = command.Id, error_kind = kind }) { Result = AuditResult.Denied },
                    cancellationToken);
                throw new GoneException(consumed ? "wrap already consumed" : "wrap expired", kind);
            }

            var plaintext = cipher.Decrypt(wrap.Envelope, $"access.wraps:{wrap.Id}");
            audit.Record("wrap.retrieve", "wrap", wrap.Id.ToString(), null, new { request_id = command.Id, key_name = wrap.KeyName, byte_length = wrap.ByteLength, by = "requester" });
            metrics.Retrieved("requester", "ok");
            return new RetrievedValue(wrap.Id, command.Id, wrap.KeyName, Convert.ToBase64String(plaintext), wrap.ByteLength, AccessJson.Hex(wrap.ContentHash), "AES-256-GCM");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/requests/{id}/wraps/{wrap_id}", async (
                        Guid id,
                        [Microsoft.AspNetCore.Mvc.FromRoute(Name = "wrap_id")] Guid wrapId,
                        [Microsoft.AspNetCore.Mvc.FromQuery(Name = "user_id")] string? userId,
                        IMediator mediator,
                        CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, wrapId, userId), cancellationToken)))
                .RequirePermission(Permissions.SecretRequest)
                .WithName(nameof(RetrieveRequestWrap))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("Retrieve a read request's value, once")
                .ProducesErrors(400, 401, 403, 404, 409, 410, 429);
    }

    private sealed class RequestState
    {
        public Guid RequesterId { get; init; }

        public string Type { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;
    }

    private sealed class ConsumedWrap
    {
        public Guid Id { get; init; }

        public string KeyName { get; init; } = string.Empty;

        public byte[] Envelope { get; init; } = [];

        public byte[] ContentHash { get; init; } = [];

        public long ByteLength { get; init; }
    }
}
