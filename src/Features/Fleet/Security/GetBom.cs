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

namespace Capstan.Features.Fleet.Security;

/// <summary><c>GET /api/v1/security/bom</c> (seed 004): with <c>instanceId</c>, that instance's bill of materials (as
/// last reported to a scan) → <c>{instanceId, packages:[{name, version, ecosystem, license, scannedAt}], summary:{total,
/// byEcosystem, lastScanned}}</c>; without, the visible fleet's totals → <c>{totalPackages, byEcosystem,
/// instancesScanned}</c>. <c>ecosystem</c> narrows either. 404 for an unknown or unseen instance.</summary>
public static class GetBom
{
    public sealed record Query(Guid? InstanceId, string? Ecosystem) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.InstanceId).NotEqual(Guid.Empty);
            RuleFor(query => query.Ecosystem).MaximumLength(64);
        }
    }

    public sealed record Response
    {
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public Guid? InstanceId { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public IReadOnlyList<Package>? Packages { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public BomSummary? Summary { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public long? TotalPackages { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public IReadOnlyDictionary<string, long>? ByEcosystem { get; init; }

        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public long? InstancesScanned { get; init; }
    }

    public sealed record Package(string Name, string Version, string Ecosystem, string? License, DateTime ScannedAt);

    public sealed record BomSummary(long Total, IReadOnlyDictionary<string, long> ByEcosystem, DateTime? LastScanned);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Instance = $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate})";

        private const string Packages = """
            SELECT package_name AS name, package_version AS version, ecosystem, license, scanned_at
            FROM fleet.bom_entries
            WHERE instance_id = @InstanceId AND (@Ecosystem::text IS NULL OR ecosystem = @Ecosystem)
            ORDER BY ecosystem, package_name, package_version
            """;

        private const string Fleet = $"""
            SELECT b.ecosystem, count(*) AS packages, count(DISTINCT b.instance_id) AS instances
            FROM fleet.bom_entries b JOIN fleet.instances i ON i.id = b.instance_id
            WHERE {FleetVisibility.Predicate} AND (@Ecosystem::text IS NULL OR b.ecosystem = @Ecosystem)
            GROUP BY ROLLUP (b.ecosystem)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var ecosystem = string.IsNullOrWhiteSpace(query.Ecosystem) ? null : OsvFeed.NormaliseEcosystem(query.Ecosystem);
            if (query.InstanceId is { } instanceId)
            {
                if (!await db.ExecuteScalarAsync<bool>(Instance, new { InstanceId = instanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
                {
                    throw new NotFoundException($"Instance '{instanceId}' not found");
                }

                var packages = await db.QueryAsync<Package>(Packages, new { InstanceId = instanceId, Ecosystem = ecosystem }, cancellationToken);
                var byEcosystem = packages.GroupBy(package => package.Ecosystem).ToDictionary(group => group.Key, group => (long)group.Count());
                return new Response
                {
                    InstanceId = instanceId,
                    Packages = packages,
                    Summary = new BomSummary(packages.Count, byEcosystem, packages.Count == 0 ? null : packages.Max(package => package.ScannedAt)),
                };
            }

            var rows = await db.QueryAsync<FleetRow>(Fleet, new { Ecosystem = ecosystem, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            var total = rows.SingleOrDefault(row => row.Ecosystem is null);
            return new Response
            {
                TotalPackages = total?.Packages ?? 0,
                ByEcosystem = rows.Where(row => row.Ecosystem is not null).OrderBy(row => row.Ecosystem, StringComparer.Ordinal).ToDictionary(row => row.Ecosystem!, row => row.Packages),
                InstancesScanned = total?.Instances ?? 0,
            };
        }

        private sealed record FleetRow(string? Ecosystem, long Packages, long Instances);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/security/bom", async (Guid? instanceId, string? ecosystem, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(instanceId, ecosystem), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetBom))
                .WithTags(FleetRoutes.Security)
                .WithSummary("BOM entries (optionally scoped by instance)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
