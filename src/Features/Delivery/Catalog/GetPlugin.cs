using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

namespace Capstan.Features.Delivery.Catalog;

/// <summary><c>GET /v1/api/plugins/{id}</c> (seed 002): one plugin with its node types → <c>{plugin, enabled}</c>; 404
/// <c>Plugin not found</c>.</summary>
public static class GetPlugin
{
    public sealed record Query(string Id) : IQuery<Response>;

    public sealed record Response(PluginView Plugin, bool Enabled);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var row = await db.QuerySingleOrDefaultAsync<PluginCatalog.ViewRow>(
                $"SELECT {PluginCatalog.Columns} FROM {PluginCatalog.From} WHERE p.id = @Id",
                new { request.RequiredCaller.UserId, query.Id },
                cancellationToken) ?? throw new NotFoundException("Plugin not found");
            return new Response(PluginCatalog.View(row), row.Enabled);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/plugins/{id}", async (string id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id.Trim()), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(GetPlugin))
                .WithTags(DeliveryRoutes.Catalog)
                .WithSummary("Get plugin details")
                .ProducesErrors(400, 401, 403, 404);
    }
}
