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

/// <summary><c>GET /api/v1/security/secrets</c> (seed 004): secret-rotation records on instances the caller can see,
/// filtered by <c>instanceId</c> and <c>overdueOnly</c>; overdue ones first, then by next rotation. A record is overdue
/// when it was never rotated, or its next rotation (last + rotation days) has passed. <c>daysSinceRotation</c> is whole
/// days (null when never rotated). → <c>{secrets, count}</c>.</summary>
public static class ListSecretRotations
{
    public sealed record Query(Guid? InstanceId, bool OverdueOnly) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.InstanceId).NotEqual(Guid.Empty);
    }

    public sealed record Response(IReadOnlyList<RotationView> Secrets, int Count);

    public sealed record RotationView(
        Guid Id, Guid InstanceId, string InstanceName, string SecretName, string SecretType, DateTime? LastRotated, DateTime? NextRotation, long RotationDays,
        bool IsOverdue, long? DaysSinceRotation);

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Select = $"""
            SELECT r.id, r.instance_id, i.name AS instance_name, r.secret_name, r.secret_type, r.last_rotated, r.next_rotation, r.rotation_days,
                   {SecurityRules.Overdue} AS is_overdue,
                   CASE WHEN r.last_rotated IS NULL THEN NULL ELSE floor(extract(epoch FROM @Now - r.last_rotated) / 86400)::bigint END AS days_since_rotation
            FROM fleet.secret_rotations r JOIN fleet.instances i ON i.id = r.instance_id
            WHERE {FleetVisibility.Predicate}
              AND (@InstanceId::uuid IS NULL OR r.instance_id = @InstanceId)
              AND (NOT @OverdueOnly OR {SecurityRules.Overdue})
            ORDER BY {SecurityRules.Overdue} DESC, r.next_rotation NULLS FIRST, r.secret_name
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var rows = await db.QueryAsync<RotationView>(
                Select, new { query.InstanceId, query.OverdueOnly, Now = clock.GetUtcNow().UtcDateTime, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            return new Response(rows, rows.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/security/secrets", async (Guid? instanceId, bool? overdueOnly, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId, overdueOnly ?? false), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListSecretRotations))
                .WithTags(FleetRoutes.SecretRotations)
                .WithSummary("Secret rotation records")
                .ProducesErrors(400, 401, 403);
    }
}
