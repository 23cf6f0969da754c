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

/// <summary><c>GET /api/v1/security/summary</c> (seed 004): for one instance (<c>instanceId</c>) or every instance the
/// caller can see: all findings (<c>totalVulnerabilities</c>), OPEN ones by severity, open and acknowledged counts,
/// overdue secret rotations, expired and weak SSH keys, and the security score with its grade.</summary>
public static class GetSecuritySummary
{
    public sealed record Query(Guid? InstanceId) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.InstanceId).NotEqual(Guid.Empty);
    }

    public sealed record Response(Summary Summary);

    public sealed record Summary(
        Guid? InstanceId, long TotalVulnerabilities, IReadOnlyDictionary<string, long> BySeverity, long OpenCount, long AcknowledgedCount, long OverdueSecrets,
        long ExpiredSshKeys, long WeakSshKeys, SecurityScore SecurityScore);

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var posture = await SecurityPosture.ReadAsync(db, request.RequiredCaller, query.InstanceId, clock.GetUtcNow().UtcDateTime, cancellationToken);
            var bySeverity = new Dictionary<string, long>
            {
                ["CRITICAL"] = posture.Critical,
                ["HIGH"] = posture.High,
                ["MEDIUM"] = posture.Medium,
                ["LOW"] = posture.Low,
                ["UNKNOWN"] = posture.Unknown,
            };
            return new Response(new Summary(
                query.InstanceId, posture.Total, bySeverity, posture.Open, posture.Acknowledged, posture.OverdueSecrets, posture.ExpiredKeys, posture.WeakKeys, posture.Score));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/security/summary", async (Guid? instanceId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetSecuritySummary))
                .WithTags(FleetRoutes.Security)
                .WithSummary("Fleet-wide security summary and score")
                .ProducesErrors(400, 401, 403, 404);
    }
}
