using System.Reflection;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Health;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary><c>GET /health</c> (seed 004): the fleet console's health check with dependency latencies:
/// <c>{status: ok|degraded, version, uptime, totalLatencyMs, checks:{database:{status, latencyMs}|{status, error}}}</c>,
/// 200 when all checks pass and 503 otherwise.</summary>
public static class GetServiceHealth
{
    public sealed record Query : IQuery<Response>;

    public sealed record Response(string Status, string Version, long Uptime, double TotalLatencyMs, IReadOnlyDictionary<string, Check> Checks);

    public sealed record Check(
        string Status,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] double? LatencyMs = null,
        [property: JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? Error = null);

    internal sealed class Handler(ServiceReadiness readiness, DatabaseProbe database, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private static readonly string Version =
            typeof(Handler).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "1.0.0";

        public async Task<Response> Handle(Query request, CancellationToken cancellationToken)
        {
            Check databaseCheck;
            if (readiness.Phase != StartupPhase.Ready)
            {
                databaseCheck = new Check("error", Error: readiness.Phase == StartupPhase.Failed ? "Initialization failed" : "Database initializing");
            }
            else
            {
                var probe = await database.CheckAsync(cancellationToken);
                databaseCheck = probe.Healthy
                    ? new Check("ok", Math.Round(probe.LatencyMs, 2))
                    : new Check("error", Error: "Database unreachable");
            }

            var uptime = (long)(clock.GetUtcNow() - readiness.StartedAt).TotalSeconds;
            var healthy = databaseCheck.Status == "ok";
            return new Response(
                healthy ? "ok" : "degraded",
                Version,
                uptime,
                databaseCheck.LatencyMs ?? 0,
                new Dictionary<string, Check> { ["database"] = databaseCheck });
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/health", async (IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var response = await mediator.Send(new Query(), cancellationToken);
                    return Results.Json(response, statusCode: response.Status == "ok" ? 200 : 503);
                })
                .AllowAnonymous() // public by design: seed 004 lists it as the one unauthenticated route
                .WithName(nameof(GetServiceHealth))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Service health with database latency")
                .Produces<Response>(200)
                .Produces<Response>(503);
    }
}
