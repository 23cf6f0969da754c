using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>GET /api/v1/extensions/summary</c> (seed 004): the 20 most installed non-deprecated extensions (active
/// installs, then downloads), how many instances have at least one extension installed, and registry totals.</summary>
public static class GetExtensionSummary
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("top_extensions")] IReadOnlyList<TopExtension> TopExtensions,
        [property: JsonPropertyName("instances_with_extensions")] long InstancesWithExtensions,
        [property: JsonPropertyName("total_extensions")] long TotalExtensions,
        [property: JsonPropertyName("deprecated_extensions")] long DeprecatedExtensions,
        [property: JsonPropertyName("active_installs")] long ActiveInstalls);

    public sealed record TopExtension(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("name")] string Name,
        [property: JsonPropertyName("display_name")] string DisplayName,
        [property: JsonPropertyName("category")] string Category,
        [property: JsonPropertyName("download_count")] long DownloadCount,
        [property: JsonPropertyName("active_installs")] long ActiveInstalls);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Top = """
            SELECT e.id, e.name, e.display_name, e.category, e.download_count,
                   (SELECT count(*) FROM fleet.extension_usages u WHERE u.extension_id = e.id AND u.removed_at IS NULL AND NOT u.failed) AS active_installs
            FROM fleet.extensions e
            WHERE NOT e.is_deprecated
            ORDER BY active_installs DESC, e.download_count DESC, e.name
            LIMIT 20
            """;

        private const string Totals = """
            SELECT (SELECT count(DISTINCT instance_id) FROM fleet.extension_usages WHERE removed_at IS NULL AND NOT failed) AS instances_with_extensions,
                   (SELECT count(*) FROM fleet.extensions) AS total_extensions,
                   (SELECT count(*) FROM fleet.extensions WHERE is_deprecated) AS deprecated_extensions,
                   (SELECT count(*) FROM fleet.extension_usages WHERE removed_at IS NULL AND NOT failed) AS active_installs
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var top = await db.QueryAsync<TopExtension>(Top, null, cancellationToken);
            var totals = await db.QuerySingleAsync<TotalsRow>(Totals, null, cancellationToken);
            return new Response(top, totals.InstancesWithExtensions, totals.TotalExtensions, totals.DeprecatedExtensions, totals.ActiveInstalls);
        }

        private sealed record TotalsRow(long InstancesWithExtensions, long TotalExtensions, long DeprecatedExtensions, long ActiveInstalls);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/summary", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetExtensionSummary))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("Fleet-wide extension summary")
                .ProducesErrors(401, 403);
    }
}
