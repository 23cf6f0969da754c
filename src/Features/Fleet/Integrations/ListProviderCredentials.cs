using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Integrations;

/// <summary><c>GET /api/v1/integrations/providers</c> (seed 004): the credentials each deployment provider needs
/// (<c>requiredEnvVars</c>, <c>optionalEnvVars</c>, notes) and whether the required ones are set → <c>{data,
/// total}</c>. Values are never returned.</summary>
public static class ListProviderCredentials
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(IReadOnlyList<ProviderSpecView> Data, int Total);

    internal sealed class Handler(IConfiguration configuration) : IRequestHandler<Query, Response>
    {
        public Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var views = IntegrationCatalog.Providers.Select(spec => new ProviderSpecView(
                    spec.ProviderId, spec.Name, spec.Description, spec.SetupUrl, spec.RequiredEnvVars, spec.OptionalEnvVars, spec.Notes,
                    IntegrationCatalog.IsConfigured(configuration, spec.RequiredEnvVars)))
                .ToList();
            return Task.FromResult(new Response(views, views.Count));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/integrations/providers", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListProviderCredentials))
                .WithTags(FleetRoutes.Integrations)
                .WithSummary("Every provider's credential spec")
                .ProducesErrors(401, 403);
    }
}
