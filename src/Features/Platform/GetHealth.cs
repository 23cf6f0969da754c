using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /api/v1/health</c> (seed 000): liveness. 200 <c>{"status":"ok"}</c> whenever the process answers
/// HTTP; it deliberately checks nothing else, so a slow database never restarts the pod.</summary>
public static class GetHealth
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
            app.MapGet("/api/v1/health", async (IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(), cancellationToken)))
                .AllowAnonymous() // public by design: the liveness probe
                .WithName(nameof(GetHealth))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Liveness: the process answers HTTP");
    }
}
