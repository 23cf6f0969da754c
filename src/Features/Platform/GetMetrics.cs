using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Observability;
using Capstan.Infrastructure.Routing;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /metrics</c> (seed 003): Prometheus text exposition of request counts and durations by route and
/// status, handler timings, the database pool, runtime and process metrics.</summary>
public static class GetMetrics
{
    public const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public sealed record Query : IQuery<string>;

    internal sealed class Handler(MetricsCollector collector) : IRequestHandler<Query, string>
    {
        public Task<string> Handle(Query request, CancellationToken cancellationToken) => Task.FromResult(collector.Scrape());
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/metrics", async (IMediator mediator, CancellationToken cancellationToken) =>
                    Results.Text(await mediator.Send(new Query(), cancellationToken), ContentType))
                .AllowAnonymous() // public by design (seed 003); it carries counts and timings, never identities
                .WithName(nameof(GetMetrics))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Prometheus metrics")
                .Produces<string>(200, "text/plain");
    }
}
