using System.Text.Json.Serialization;
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

namespace Capstan.Features.Access.Requests;

/// <summary><c>GET /api/v1/requests/{id}/wraps?user_id=</c> (seed 003): the requester's value-free view of a request's
/// wraps (<c>{id, key_name, consumed, expires_at, ...}</c>). Only the requester sees them (404 for anyone else);
/// <c>user_id</c> may only name the caller.</summary>
public static class ListRequestWraps
{
    public sealed record Query(Guid Id, string? UserId) : IQuery<IReadOnlyList<WrapSummary>>;

    public sealed record WrapSummary(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("key_name")] string KeyName,
        [property: JsonPropertyName("consumed")] bool Consumed,
        [property: JsonPropertyName("consumed_at")] DateTime? ConsumedAt,
        [property: JsonPropertyName("available")] bool Available,
        [property: JsonPropertyName("byte_length")] long ByteLength,
        [property: JsonPropertyName("origin")] string Origin,
        [property: JsonPropertyName("expires_at")] DateTime ExpiresAt,
        [property: JsonPropertyName("created_at")] DateTime CreatedAt);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.UserId).MaximumLength(100).OverridePropertyName("user_id");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, IReadOnlyList<WrapSummary>>
    {
        private const string Owner = "SELECT requester_id FROM access.requests WHERE id = @Id";

        private const string Wraps = """
            SELECT id, key_name, consumed_at IS NOT NULL AS consumed, consumed_at,
                   (consumed_at IS NULL AND envelope IS NOT NULL AND expires_at > now()) AS available,
                   byte_length, origin, expires_at, created_at
            FROM access.wraps WHERE request_id = @Id
            ORDER BY created_at, key_name
            """;

        public async Task<IReadOnlyList<WrapSummary>> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            request.CallerIdMatching(query.UserId, "user_id");
            var owner = await db.QuerySingleOrDefaultAsync<Guid?>(Owner, new { query.Id }, cancellationToken);
            if (owner != caller.UserId)
            {
                throw new NotFoundException("request not found");
            }

            return await db.QueryAsync<WrapSummary>(Wraps, new { query.Id }, cancellationToken);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/requests/{id}/wraps", async (
                        Guid id, [Microsoft.AspNetCore.Mvc.FromQuery(Name = "user_id")] string? userId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, userId), cancellationToken)))
                .RequirePermission(Permissions.SecretRequest)
                .WithName(nameof(ListRequestWraps))
                .WithTags(AccessRoutes.Requests)
                .WithSummary("List a request's wraps (no values)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
