using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
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

namespace Capstan.Features.Fleet.Providers;

/// <summary><c>POST /api/v1/providers/{provider}/compute-catalog/refresh</c> (seed 004, administrators): reloads the
/// provider's catalog from its data file, or from the provider API when <c>Fleet:Pricing:ApiUrl</c> is set →
/// <c>{message: "Catalog refreshed", provider, sizes_count, source, fetched_at}</c>; 404 unknown provider, 503 when the
/// API does not deliver.</summary>
public static class RefreshComputeCatalog
{
    public sealed record Command(string Provider) : ICommand<Response>;

    public sealed record Response(
        string Message, string Provider, [property: JsonPropertyName("sizes_count")] int SizesCount, string Source, [property: JsonPropertyName("fetched_at")] DateTime FetchedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Provider).NotEmpty().MaximumLength(64);
    }

    internal sealed class Handler(DbSession db, IConfiguration configuration, IHttpClientFactory httpClients, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var stored = await ProviderCatalog.RefreshAsync(db, configuration, httpClients, command.Provider, clock.GetUtcNow().UtcDateTime, cancellationToken);
            audit.Record("catalog.refresh", "provider", stored.Document.Id, stored.Document.Name, new { stored.Source, sizes = stored.Document.ComputeTiers.Count });
            return new Response("Catalog refreshed", stored.Document.Id, stored.Document.ComputeTiers.Count, stored.Source, stored.FetchedAt);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/providers/{provider}/compute-catalog/refresh", async (string provider, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(provider), cancellationToken)))
                .RequirePermission(Permissions.CatalogRefresh)
                .WithName(nameof(RefreshComputeCatalog))
                .WithTags(FleetRoutes.ComputeCatalog)
                .WithSummary("Force refresh cached catalog from provider API")
                .ProducesErrors(401, 403, 404, 503);
    }
}
