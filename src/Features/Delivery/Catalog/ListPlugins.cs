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

/// <summary><c>GET /v1/api/plugins</c> (seed 002): the plugin catalog (57 built-ins) sorted by display name, each with
/// whether the caller enabled it (<c>enabled</c>, <c>enabledAt</c>); <c>?category=</c> filters.</summary>
public static class ListPlugins
{
    public sealed record Query(string? Category) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<PluginView> Plugins, long Total);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Category).MaximumLength(50);
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var rows = await db.QueryAsync<PluginCatalog.ViewRow>(
                $"SELECT {PluginCatalog.Columns} FROM {PluginCatalog.From} WHERE (@Category::text IS NULL OR p.category = @Category) ORDER BY lower(p.display_name), p.id",
                new { request.RequiredCaller.UserId, query.Category },
                cancellationToken);
            return new Response([.. rows.Select(PluginCatalog.View)], rows.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/plugins", async (string? category, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(string.IsNullOrWhiteSpace(category) ? null : category.Trim()), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListPlugins))
                .WithTags(DeliveryRoutes.Catalog)
                .WithSummary("List all plugins")
                .ProducesErrors(400, 401, 403);
    }
}
