using Capstan.Infrastructure.Security;

namespace Capstan.Api.Security;

/// <summary>Records where the request comes from (for audit rows and rate limits) before anything else reads it.</summary>
public sealed class RequestContextMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context, RequestContext request)
    {
        request.IpAddress = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        var userAgent = context.Request.Headers.UserAgent.ToString();
        request.UserAgent = userAgent.Length > 256 ? userAgent[..256] : userAgent;
        request.RequestId = context.TraceIdentifier;
        return next(context);
    }
}
