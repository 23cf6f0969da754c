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
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Integrations;

/// <summary><c>GET /api/v1/integrations/{id}</c> (seed 004): one platform integration with <c>configured</c>; 404
/// "Integration not found".</summary>
public static class GetIntegration
{
    public sealed record Query(string Id) : IQuery<IntegrationView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(DbSession db, IConfiguration configuration) : IRequestHandler<Query, IntegrationView>
    {
        public async Task<IntegrationView> Handle(Query query, CancellationToken cancellationToken)
        {
            var item = IntegrationCatalog.Integrations.FirstOrDefault(integration => integration.Id == query.Id)
                ?? throw new NotFoundException("Integration not found");
            var vault = item.Category == "compute_catalog" ? await IntegrationCatalog.VaultNamesAsync(db, item.EnvVarNames, cancellationToken) : null;
            return new IntegrationView(
                item.Id, item.Name, item.Description, item.SetupUrl, item.EnabledFeatures, item.EnvVarName, item.EnvVarNames, item.Category, item.Required,
                IntegrationCatalog.IsConfigured(configuration, item.EnvVarNames, vault));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/integrations/{id}", async (string id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetIntegration))
                .WithTags(FleetRoutes.Integrations)
                .WithSummary("One platform integration's status")
                .ProducesErrors(401, 403, 404);
    }
}
