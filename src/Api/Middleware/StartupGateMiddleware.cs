using Capstan.Api.Errors;
using Capstan.Infrastructure.Health;

namespace Capstan.Api.Middleware;

/// <summary>Until start-up finishes (database reached, migrations applied) only probes, metrics and docs answer;
/// everything else gets 503 with <c>Retry-After</c> instead of failing against a half-made schema.</summary>
public sealed class StartupGateMiddleware(RequestDelegate next, ServiceReadiness readiness)
{
    private static readonly string[] AlwaysOpen = ["/health", "/healthz", "/readyz", "/metrics", "/api/v1/health", "/api/v1/ready", "/api/docs"];

    public Task InvokeAsync(HttpContext context)
    {
        if (readiness.IsReady || AlwaysOpen.Any(path => context.Request.Path.StartsWithSegments(path)))
        {
            return next(context);
        }

        var message = readiness.Phase == StartupPhase.Failed
            ? "Capstan initialization failed"
            : "Capstan initialization has not completed";
        return ErrorResponseWriter.WriteAsync(context, 503, message, headers: new Dictionary<string, string> { ["Retry-After"] = "5" });
    }
}
