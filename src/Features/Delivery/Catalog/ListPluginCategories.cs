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

namespace Capstan.Features.Delivery.Catalog;

/// <summary><c>GET /v1/api/plugins/categories</c> (seed 002): the distinct plugin categories, sorted.</summary>
public static class ListPluginCategories
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<string> Categories);

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new(await db.QueryAsync<string>("SELECT DISTINCT category FROM delivery.plugins ORDER BY category", null, cancellationToken));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/plugins/categories", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListPluginCategories))
                .WithTags(DeliveryRoutes.Catalog)
                .WithSummary("Get plugin categories")
                .ProducesErrors(401, 403);
    }
}
