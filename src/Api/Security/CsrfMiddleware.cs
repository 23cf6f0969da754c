using Capstan.Api.Errors;
using Capstan.Infrastructure.Security;
using Microsoft.AspNetCore.Authorization;

namespace Capstan.Api.Security;

/// <summary>Cookie-authenticated requests that change state must echo the <c>gyre_csrf</c> cookie in
/// <c>X-CSRF-Token</c> (double submit, bound to the session). Bearer and API-key callers are not exposed to CSRF and
/// are not asked; public routes (login) neither.</summary>
public sealed class CsrfMiddleware(RequestDelegate next, CsrfTokens csrfTokens)
{
    public Task InvokeAsync(HttpContext context, RequestContext request)
    {
        if (request.Caller is { Method: AuthMethod.Session, SessionId: { } sessionId }
            && !HttpMethods.IsGet(context.Request.Method)
            && !HttpMethods.IsHead(context.Request.Method)
            && !HttpMethods.IsOptions(context.Request.Method)
            && context.GetEndpoint()?.Metadata.GetMetadata<IAllowAnonymous>() is null
            && !csrfTokens.IsValid(sessionId, context.Request.Headers[CsrfTokens.HeaderName], context.Request.Cookies[CsrfTokens.CookieName]))
        {
            return ErrorResponseWriter.WriteAsync(context, 403, "Invalid or missing CSRF token");
        }

        return next(context);
    }
}
