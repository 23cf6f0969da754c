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

namespace Capstan.Features.Fleet.Security;

/// <summary><c>GET /api/v1/security/ssh-keys</c> (seed 004): the SSH key audit of instances the caller can see, filtered
/// by <c>instanceId</c> and <c>status</c> (an ACTIVE key past its expiry counts as EXPIRED). Each key says whether it is
/// weak (DSA/DSS, RSA under 2048 bits) and expired; <c>summary</c> counts them. → <c>{keys, summary, count}</c>.</summary>
public static class ListSshKeys
{
    public sealed record Query(Guid? InstanceId, string? Status) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<KeyView> Keys, KeySummary Summary, int Count);

    public sealed record KeyView(
        Guid Id, Guid InstanceId, string InstanceName, string Fingerprint, string? Comment, string KeyType, long? KeyBits, string Status, bool IsWeak,
        DateTime? LastUsedAt, DateTime CreatedAt, DateTime? ExpiresAt, bool IsExpired, DateTime? RevokedAt);

    public sealed record KeySummary(long Total, long Active, long Revoked, long Expired, long Weak, IReadOnlyDictionary<string, long> ByType);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.Status).Must(status => FleetVocabulary.IsOneOf(status, SecurityRules.KeyStatuses)).When(query => query.Status is not null)
                .WithMessage($"status must be one of: {string.Join(", ", SecurityRules.KeyStatuses)}");
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT * FROM (
                SELECT k.id, k.instance_id, i.name AS instance_name, k.fingerprint, k.comment, k.key_type, k.key_bits,
                       CASE WHEN {SecurityRules.Expired} THEN 'EXPIRED' ELSE k.status END AS status,
                       {SecurityRules.Weak} AS is_weak, k.last_used_at, k.created_at, k.expires_at, {SecurityRules.Expired} AS is_expired, k.revoked_at
                FROM fleet.ssh_keys k JOIN fleet.instances i ON i.id = k.instance_id
                WHERE {FleetVisibility.Predicate} AND (@InstanceId::uuid IS NULL OR k.instance_id = @InstanceId)
            ) keys
            WHERE (@Status::text IS NULL OR status = @Status)
            ORDER BY instance_name, created_at, id
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var keys = await db.QueryAsync<KeyView>(
                Select,
                new { query.InstanceId, Status = query.Status?.Trim().ToUpperInvariant(), Now = clock.GetUtcNow().UtcDateTime, scope.SeesAllTeams, scope.TeamIds },
                cancellationToken);
            var summary = new KeySummary(
                keys.Count,
                keys.Count(key => key.Status == "ACTIVE"),
                keys.Count(key => key.Status == "REVOKED"),
                keys.Count(key => key.Status == "EXPIRED"),
                keys.Count(key => key.IsWeak && key.Status == "ACTIVE"),
                keys.GroupBy(key => key.KeyType.ToLowerInvariant()).OrderBy(group => group.Key, StringComparer.Ordinal).ToDictionary(group => group.Key, group => (long)group.Count()));
            return new Response(keys, summary, keys.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/security/ssh-keys", async (Guid? instanceId, string? status, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId, status), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListSshKeys))
                .WithTags(FleetRoutes.SshKeys)
                .WithSummary("SSH key audit list")
                .ProducesErrors(400, 401, 403);
    }
}
