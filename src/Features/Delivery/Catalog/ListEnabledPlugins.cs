using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

/// <summary><c>GET /v1/api/plugins/enabled</c> (seed 002): the plugins the caller has enabled.</summary>
public static class ListEnabledPlugins
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<PluginView> Plugins);

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var rows = await db.QueryAsync<PluginCatalog.ViewRow>(
                $"SELECT {PluginCatalog.Columns} FROM {PluginCatalog.From} WHERE u.status = 'enabled' ORDER BY lower(p.display_name), p.id",
                new { request.RequiredCaller.UserId },
                cancellationToken);
            return new Response([.. rows.Select(PluginCatalog.View)]);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/plugins/enabled", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListEnabledPlugins))
                .WithTags(DeliveryRoutes.Catalog)
                .WithSummary("Get enabled plugins")
                .ProducesErrors(401, 403);
    }
}
