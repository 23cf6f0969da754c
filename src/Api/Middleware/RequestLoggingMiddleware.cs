using System.Collections;
using System.Diagnostics;

namespace Capstan.Api.Middleware;

/// <summary>One structured log line per request: method, path (never the query string, which may hold tickets),
/// route template, status, duration and request id. Every other line logged while the request is served carries the
/// request id as a scope. The line is written on every request, so it is kept cheap: a generated logger method, a
/// one-key scope, and no second copy of the id in the line's own scopes (a typical line's JSON now fits the console
/// logger's 1 KB buffer, which it regrows for every longer line).</summary>
public sealed partial class RequestLoggingMiddleware(RequestDelegate next, ILogger<RequestLoggingMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        var originalPath = context.Request.Path.Value;
        try
        {
            // The request's own line names the id in its state; the scope is for the lines logged while it is served.
            using (logger.BeginScope(new RequestIdScope(context.TraceIdentifier)))
            {
                await next(context);
            }
        }
        finally
        {
            var status = context.RequestAborted.IsCancellationRequested && !context.Response.HasStarted ? 499 : context.Response.StatusCode;
            var level = status >= 500 ? LogLevel.Error : LogLevel.Information;
            if (logger.IsEnabled(level))
            {
                LogRequest(
                    logger,
                    level,
                    context.Request.Method,
                    originalPath,
                    status,
                    Math.Round(Stopwatch.GetElapsedTime(started).TotalMilliseconds, 1),
                    (context.GetEndpoint() as RouteEndpoint)?.RoutePattern.RawText ?? "-",
                    context.User.Identity is { IsAuthenticated: true, Name: { } user } ? user : "-",
                    context.TraceIdentifier);
            }
        }
    }

    [LoggerMessage(EventId = 1, EventName = "Request", Message = "HTTP {Method} {Path} -> {StatusCode} in {ElapsedMs} ms (route {Route}, user {User}, request {RequestId})")]
    private static partial void LogRequest(
        ILogger logger, LogLevel level, string method, string? path, int statusCode, double elapsedMs, string route, string user, string requestId);

    /// <summary>The request id as a log scope: one key, and readable text for formatters that print a scope's message.</summary>
    private sealed class RequestIdScope(string requestId) : IReadOnlyList<KeyValuePair<string, object?>>
    {
        public int Count => 1;

        public KeyValuePair<string, object?> this[int index] =>
            index == 0 ? new KeyValuePair<string, object?>("RequestId", requestId) : throw new ArgumentOutOfRangeException(nameof(index));

        public IEnumerator<KeyValuePair<string, object?>> GetEnumerator()
        {
            yield return this[0];
        }

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

        public override string ToString() => $"RequestId:{requestId}";
    }
}
