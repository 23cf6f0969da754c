using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /healthz</c> (seed 003): always 200 <c>{"status":"ok"}</c> while the process runs.</summary>
public static class GetHealthz
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(string Status);

    internal sealed class Handler : IRequestHandler<Query, Response>
    {
        public Task<Response> Handle(Query request, CancellationToken cancellationToken) => Task.FromResult(new Response("ok"));
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/healthz", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .AllowAnonymous() // public by design: the liveness probe
                .WithName(nameof(GetHealthz))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Liveness, always 200");
    }
}
