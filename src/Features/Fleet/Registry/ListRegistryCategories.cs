using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Registry;

/// <summary><c>GET /api/v1/registry/extensions/categories</c> (seed 004): categories derived from the CLI's extension
/// list, with how many extensions each has, largest first (ties by name) → <c>{categories:[{category, count}]}</c>;
/// 503 when the CLI is missing or fails.</summary>
public static class ListRegistryCategories
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<Category> Categories);

    public sealed record Category(string Name, int Count)
    {
        [System.Text.Json.Serialization.JsonPropertyName("category")]
        public string Name { get; init; } = Name;
    }

    internal sealed class Handler(SindriCli cli) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken) =>
            new([.. (await SindriRegistry.ExtensionsAsync(cli, cancellationToken))
                .GroupBy(extension => extension.Category, StringComparer.OrdinalIgnoreCase)
                .Select(group => new Category(group.Key, group.Count()))
                .OrderByDescending(category => category.Count)
                .ThenBy(category => category.Name, StringComparer.Ordinal)]);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/registry/extensions/categories", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListRegistryCategories))
                .WithTags(FleetRoutes.Registry)
                .WithSummary("Categories derived from the sindri CLI's extensions")
                .ProducesErrors(401, 403, 503);
    }
}
