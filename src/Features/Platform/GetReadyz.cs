using System.Text.Json.Serialization;
using Capstan.Infrastructure.Health;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /readyz</c> (seed 003): 200 <c>{"status":"ready"}</c> when every readiness check passes, otherwise
/// 503 <c>{"status":"not_ready","failures":{check: reason}}</c> listing only the failing checks.</summary>
public static class GetReadyz
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(
        string Status,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] IReadOnlyDictionary<string, string>? Failures = null);

    internal sealed class Handler(ServiceReadiness readiness, DatabaseProbe database) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            var failures = new Dictionary<string, string>();
            if (readiness.Phase != StartupPhase.Ready)
            {
                failures["startup"] = readiness.Phase == StartupPhase.Failed ? "failed" : "initializing";
            }
            else if (await database.CheckAsync(cancellationToken) is { Healthy: false } probe)
            {
                failures["postgres"] = probe.Error!;
            }

            return failures.Count == 0 ? new Response("ready") : new Response("not_ready", failures);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/readyz", async (IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(new Query(), cancellationToken);
                    return Results.Json(response, statusCode: response.Failures is null ? 200 : 503);
                })
                .AllowAnonymous() // public by design: the readiness probe
                .WithName(nameof(GetReadyz))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Readiness with the map of failing checks")
                .Produces<Response>(200)
                .Produces<Response>(503);
    }
}
