using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Overview;

/// <summary><c>GET /api/v1/fleet/geo</c> (seed 004): map pins for the instances the caller may see, destroyed ones
/// excluded: instances grouped by coordinates rounded to two decimals (their own, else their provider region's from the
/// registry), with the count per status, the most common region, label and provider; instances without any coordinates
/// are counted as <c>unlocated</c>.</summary>
public static class GetFleetGeo
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<Pin> Pins, long Total, long Unlocated);

    public sealed record Pin(string? Region, double Lat, double Lon, string? Label, long Count, IReadOnlyDictionary<string, long> Statuses, string Provider);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Located = $"""
            SELECT i.status, i.provider, i.region,
                   round(COALESCE(i.geo_lat, rc.lat)::numeric, 2)::double precision AS lat,
                   round(COALESCE(i.geo_lon, rc.lon)::numeric, 2)::double precision AS lon,
                   COALESCE(i.geo_label, rc.label) AS label
            FROM fleet.instances i
            LEFT JOIN fleet.region_coordinates rc ON rc.provider = i.provider AND rc.region = i.region
            WHERE i.status <> 'DESTROYED' AND {FleetVisibility.Predicate}
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var instances = await db.QueryAsync<Located>(Located, new { scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            var pins = instances
                .Where(instance => instance.Lat is not null && instance.Lon is not null)
                .GroupBy(instance => (instance.Lat!.Value, instance.Lon!.Value))
                .Select(group => new Pin(
                    MostCommon(group.Select(instance => instance.Region)),
                    group.Key.Item1,
                    group.Key.Item2,
                    MostCommon(group.Select(instance => instance.Label)),
                    group.Count(),
                    group.GroupBy(instance => instance.Status).ToDictionary(status => status.Key, status => (long)status.Count()),
                    MostCommon(group.Select(instance => instance.Provider))!))
                .OrderByDescending(pin => pin.Count)
                .ThenBy(pin => pin.Lat)
                .ThenBy(pin => pin.Lon)
                .ToList();
            return new Response(pins, instances.Count, instances.Count(instance => instance.Lat is null || instance.Lon is null));
        }

        private static string? MostCommon(IEnumerable<string?> values) =>
            values.Where(value => value is not null).GroupBy(value => value, StringComparer.Ordinal).OrderByDescending(group => group.Count()).ThenBy(group => group.Key, StringComparer.Ordinal)
                .Select(group => group.Key).FirstOrDefault();
    }

    internal sealed record Located
    {
        public string Status { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;

        public string? Region { get; init; }

        public double? Lat { get; init; }

        public double? Lon { get; init; }

        public string? Label { get; init; }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/fleet/geo", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetFleetGeo))
                .WithTags(FleetRoutes.Fleet)
                .WithSummary("Instance locations as map pins")
                .ProducesErrors(401, 403);
    }
}
