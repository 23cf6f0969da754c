using System.Diagnostics;

namespace Capstan.Api.Middleware;

/// <summary>One structured log line per request: method, path (never the query string, which may hold tickets),
/// route template, status, duration and request id.</summary>
public sealed class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["RequestId"] = context.TraceIdentifier });
        var originalPath = context.Request.Path.Value;
        try
        {
            await next(context);
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            var route = (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText;
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            var level = status >= 500 ? LogLevel.Error : LogLevel.Information;
            logger.Log(
                level,
                "HTTP {Method} {Path} -> {StatusCode} in {ElapsedMs:0.0} ms (route {Route}, user {User}, request {RequestId})",
                context.Request.Method,
                originalPath,
                status,
                elapsed,
                route ?? "-",
                context.User.Identity?.IsAuthenticated == true ? context.User.Identity.Name : "-",
                context.TraceIdentifier);
        }
    }
}
