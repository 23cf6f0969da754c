using System.Text.Json.Serialization;
using Capstan.Infrastructure.Health;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /api/v1/ready</c> (seed 000): 200 <c>{"status":"ready"}</c> once start-up finished and the database
/// answers; 503 <c>initializing</c> or <c>failed</c> during or after start-up, and 503 <c>not_ready</c> naming the failing
/// check while the database is down. Public, unlike upstream Gyre, whose own readiness probe got a 401.</summary>
public static class GetReady
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(
        string Status,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Message = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? Failures = null)
    {
        [JsonIgnore]
        public bool IsReady => Status == "ready";
    }

    internal sealed class Handler(ServiceReadiness readiness, DatabaseProbe database) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            switch (readiness.Phase)
            {
                case StartupPhase.Initializing:
                    return new Response("initializing", "Capstan initialization has not completed");
                case StartupPhase.Failed:
                    return new Response("failed", "Capstan initialization failed");
            }

            var probe = await database.CheckAsync(cancellationToken);
            return probe.Healthy
                ? new Response("ready")
                : new Response("not_ready", "A dependency is unavailable", new Dictionary<string, string> { ["database"] = probe.Error! });
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/ready", async (IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(new Query(), cancellationToken);
                    return Results.Json(response, statusCode: response.IsReady ? 200 : 503);
                })
                .AllowAnonymous() // public by design: the readiness probe
                .WithName(nameof(GetReady))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Readiness: start-up finished and the database answers")
                .Produces<Response>(200)
                .Produces<Response>(503);
    }
}
