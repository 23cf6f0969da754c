using Microsoft.AspNetCore.Http;

namespace Capstan.Infrastructure.Security;

/// <summary>The browser side of a session: <c>gyre_session</c> (HttpOnly, SameSite=Lax, Secure over HTTPS) carries
/// the session token; <c>gyre_csrf</c> (readable by the page) carries the CSRF token to echo in <c>X-CSRF-Token</c>.</summary>
public static class SessionCookies
{
    public const string SessionName = "gyre_session";

    public static void Issue(HttpContext context, string sessionToken, DateTimeOffset expiresAt, string csrfToken)
    {
        context.Response.Cookies.Append(SessionName, sessionToken, new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Lax,
            Secure = context.Request.IsHttps,
            Path = "/",
            Expires = expiresAt,
        });
        IssueCsrf(context, csrfToken, expiresAt);
    }

    public static void IssueCsrf(HttpContext context, string csrfToken, DateTimeOffset expiresAt) =>
        context.Response.Cookies.Append(CsrfTokens.CookieName, csrfToken, new CookieOptions
        {
            HttpOnly = false,
            SameSite = SameSiteMode.Strict,
            Secure = context.Request.IsHttps,
            Path = "/",
            Expires = expiresAt,
        });

    public static void Clear(HttpContext context)
    {
        context.Response.Cookies.Delete(SessionName, new CookieOptions { Path = "/" });
        context.Response.Cookies.Delete(CsrfTokens.CookieName, new CookieOptions { Path = "/" });
    }
}
