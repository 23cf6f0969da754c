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

/// <summary><c>GET /api/v1/integrations/providers/{providerId}</c> (seed 004): one provider's required credentials and
/// whether they are set; 404 "Provider not found".</summary>
public static class GetProviderCredentials
{
    public sealed record Query(string ProviderId) : IQuery<ProviderSpecView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.ProviderId).NotEmpty().MaximumLength(100);
    }

    internal sealed class Handler(IConfiguration configuration) : IRequestHandler<Query, ProviderSpecView>
    {
        public Task<ProviderSpecView> Handle(Query query, CancellationToken cancellationToken)
        {
            var spec = IntegrationCatalog.Providers.FirstOrDefault(provider => provider.ProviderId == query.ProviderId)
                ?? throw new NotFoundException("Provider not found");
            return Task.FromResult(new ProviderSpecView(
                spec.ProviderId, spec.Name, spec.Description, spec.SetupUrl, spec.RequiredEnvVars, spec.OptionalEnvVars, spec.Notes,
                IntegrationCatalog.IsConfigured(configuration, spec.RequiredEnvVars)));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/integrations/providers/{providerId}", async (string providerId, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(providerId), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetProviderCredentials))
                .WithTags(FleetRoutes.Integrations)
                .WithSummary("One provider's required credentials")
                .ProducesErrors(401, 403, 404);
    }
}
