using System.Text.RegularExpressions;

namespace Capstan.Api.Middleware;

/// <summary>Every response carries <c>X-Request-Id</c>: the caller's when it is a safe token, otherwise a new
/// UUIDv7. It becomes the request's trace identifier, so logs and 5xx bodies name it too.</summary>
public sealed partial class RequestIdMiddleware(RequestDelegate next)
{
    public const string HeaderName = "X-Request-Id";

    public Task InvokeAsync(HttpContext context)
    {
        var incoming = context.Request.Headers[HeaderName].ToString();
        var requestId = SafeId().IsMatch(incoming) ? incoming : Guid.CreateVersion7().ToString();
        context.TraceIdentifier = requestId;
        context.Response.OnStarting(() =>
        {
            context.Response.Headers[HeaderName] = requestId;
            return Task.CompletedTask;
        });
        return next(context);
    }

    // Echoing caller input into a header: only short tokens without separators or control characters.
    [GeneratedRegex("^[A-Za-z0-9._:-]{1,128}$")]
    private static partial Regex SafeId();
}
