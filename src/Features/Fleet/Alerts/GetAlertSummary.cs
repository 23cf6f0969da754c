using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>GET /api/v1/alerts/summary</c> (seed 004): active alerts by severity and all alerts by status (every
/// severity and status present, zero when none), with the totals.</summary>
public static class GetAlertSummary
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyDictionary<string, long> BySeverity, IReadOnlyDictionary<string, long> ByStatus, long Total, long Open);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Counts = "SELECT status, severity, count(*) AS n FROM fleet.alerts GROUP BY status, severity";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var counts = await db.QueryAsync<Count>(Counts, null, cancellationToken);
            return new Response(
                FleetVocabulary.Severities.ToDictionary(severity => severity, severity => counts.Where(count => count.Severity == severity && count.Status == "ACTIVE").Sum(count => count.N)),
                FleetVocabulary.AlertStatuses.ToDictionary(status => status, status => counts.Where(count => count.Status == status).Sum(count => count.N)),
                counts.Sum(count => count.N),
                counts.Where(count => count.Status is "ACTIVE" or "ACKNOWLEDGED").Sum(count => count.N));
        }
    }

    internal sealed record Count
    {
        public string Status { get; init; } = string.Empty;

        public string Severity { get; init; } = string.Empty;

        public long N { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/alerts/summary", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetAlertSummary))
                .WithTags(FleetRoutes.Alerts)
                .WithSummary("Alert counts by severity and status")
                .ProducesErrors(401, 403);
    }
}
