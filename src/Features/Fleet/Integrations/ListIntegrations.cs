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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Integrations;

/// <summary><c>GET /api/v1/integrations</c> (seed 004): every platform integration with <c>configured: boolean</c>
/// (settings present; compute-catalog ones also through a fleet-wide vault secret of the setting's name), filtered by
/// <c>category</c> → <c>{data, total}</c>. Values are never returned.</summary>
public static class ListIntegrations
{
    public sealed record Query(string? Category) : IQuery<Response>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Category).MaximumLength(64);
    }

    public sealed record Response(IReadOnlyList<IntegrationView> Data, int Total);

    internal sealed class Handler(DbSession db, IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var chosen = IntegrationCatalog.Integrations
                .Where(integration => string.IsNullOrWhiteSpace(query.Category) || integration.Category == query.Category.Trim().ToLowerInvariant())
                .ToList();
            var vault = await IntegrationCatalog.VaultNamesAsync(db, chosen.Where(item => item.Category == "compute_catalog").SelectMany(item => item.EnvVarNames), cancellationToken);
            var views = chosen.Select(item => new IntegrationView(
                    item.Id, item.Name, item.Description, item.SetupUrl, item.EnabledFeatures, item.EnvVarName, item.EnvVarNames, item.Category, item.Required,
                    IntegrationCatalog.IsConfigured(configuration, item.EnvVarNames, item.Category == "compute_catalog" ? vault : null)))
                .ToList();
            return new Response(views, views.Count);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/integrations", async (string? category, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(category), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListIntegrations))
                .WithTags(FleetRoutes.Integrations)
                .WithSummary("All platform integrations with their status")
                .ProducesErrors(401, 403);
    }
}
