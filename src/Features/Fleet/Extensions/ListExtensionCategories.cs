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

/// <summary><c>GET /api/v1/extensions/categories</c> (seed 004): every category of the registry with its number of
/// extensions, largest first (ties by name).</summary>
public static class ListExtensionCategories
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response([property: JsonPropertyName("categories")] IReadOnlyList<CategoryCount> Categories);

    public sealed record CategoryCount([property: JsonPropertyName("category")] string Category, [property: JsonPropertyName("count")] long Count);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Select = "SELECT category, count(*) AS count FROM fleet.extensions GROUP BY category ORDER BY count(*) DESC, category";

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(await db.QueryAsync<CategoryCount>(Select, null, cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/extensions/categories", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListExtensionCategories))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("List extension categories with counts")
                .ProducesErrors(401, 403);
    }
}
