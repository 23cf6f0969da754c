using System.Security.Claims;
using System.Text.Encodings.Web;
using Capstan.Api.Errors;
using Capstan.Infrastructure.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace Capstan.Api.Security;

/// <summary>
/// The one authentication handler (DESIGN §3): <c>Authorization: Bearer</c> with a session JWT or an API key,
/// <c>X-Api-Key</c>, the <c>gyre_session</c> cookie, and on WebSocket upgrades a single-use <c>?ticket=</c> (or a
/// <c>?token=</c> JWT, as KubeOrch's terminal sends). The caller goes into the request's <see cref="RequestContext"/>.
/// </summary>
public sealed class CapstanAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory logger,
    UrlEncoder encoder,
    CredentialStore credentials,
    CredentialCheckCache cache,
    SessionTokens sessionTokens,
    CsrfTokens csrfTokens) : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Capstan";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var cancellationToken = Context.RequestAborted;
        CredentialCheck check;
        var authorization = Request.Headers.Authorization.ToString();
        // Keys are hashed straight from the header, and the lookups get their inputs as state rather than through
        // closures: a request answered from the cache allocates only the key here.
        if (authorization.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            check = await cache.GetOrLookupAsync(
                CredentialCheckCache.KeyOf("bearer", authorization.AsSpan(7).Trim()),
                (Handler: this, Authorization: authorization),
                static (state, token) => state.Handler.FromBearerAsync(state.Authorization[7..].Trim(), token),
                cancellationToken);
        }
        else if (Request.Headers["X-Api-Key"].ToString() is { Length: > 0 } apiKey)
        {
            check = await cache.GetOrLookupAsync(
                CredentialCheckCache.KeyOf("key", apiKey), (Credentials: credentials, ApiKey: apiKey), static (state, token) => state.Credentials.FromApiKeyAsync(state.ApiKey, token), cancellationToken);
        }
        else if (Request.Cookies[SessionCookies.SessionName] is { Length: > 0 } sessionToken)
        {
            check = await cache.GetOrLookupAsync(
                CredentialCheckCache.KeyOf("cookie", sessionToken),
                (Credentials: credentials, SessionToken: sessionToken),
                static (state, token) => state.Credentials.FromSessionTokenAsync(state.SessionToken, token),
                cancellationToken);
            if (check.Caller?.SessionId is { } sessionId)
            {
                KeepCookiesFresh(sessionToken, sessionId, check);
            }
        }
        else if (Context.WebSockets.IsWebSocketRequest && Request.Query["ticket"].ToString() is { Length: > 0 } ticket)
        {
            check = await credentials.FromTicketAsync(ticket, cancellationToken);
        }
        else if (Context.WebSockets.IsWebSocketRequest && Request.Query["token"].ToString() is { Length: > 0 } token)
        {
            check = await FromBearerAsync(token, cancellationToken);
        }
        else
        {
            return AuthenticateResult.NoResult();
        }

        if (check.Caller is not { } caller)
        {
            return AuthenticateResult.Fail(check.Failure ?? "Invalid credentials");
        }

        Context.RequestServices.GetRequiredService<RequestContext>().Caller = caller;
        var identity = new ClaimsIdentity(
            [
                new Claim(ClaimTypes.NameIdentifier, caller.UserId.ToString()),
                new Claim(ClaimTypes.Name, caller.Username),
                new Claim(ClaimTypes.Role, caller.Role.Name()),
                new Claim("auth_method", caller.Method.ToString()),
            ],
            SchemeName);
        return AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), SchemeName));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        Response.Headers.WWWAuthenticate = "Bearer";
        await ErrorResponseWriter.WriteAsync(Context, 401, result.Failure?.Message ?? "Authentication required");
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ErrorResponseWriter.WriteAsync(Context, 403, "Permission denied");

    private async Task<CredentialCheck> FromBearerAsync(string token, CancellationToken cancellationToken)
    {
        if (token.Length == 0)
        {
            return CredentialCheck.Refused("Empty bearer token");
        }

        if (!SessionTokens.LooksLikeJwt(token))
        {
            return await credentials.FromApiKeyAsync(token, cancellationToken);
        }

        var claims = await sessionTokens.ReadAsync(token, TimeSpan.Zero);
        if (claims is null)
        {
            return CredentialCheck.Refused("Invalid or expired token");
        }

        // Bearer answers set no cookies, so ExpiresAt only bounds how long the credential cache may keep this one.
        var check = await credentials.FromSessionAsync(claims.SessionId, claims.UserId, cancellationToken);
        return check.ExpiresAt is { } expiresAt && claims.ExpiresAt < expiresAt ? check with { ExpiresAt = claims.ExpiresAt } : check;
    }

    // A sliding session re-issues its cookie; a session whose page lost the CSRF cookie gets it back.
    private void KeepCookiesFresh(string sessionToken, Guid sessionId, CredentialCheck check)
    {
        var csrf = csrfTokens.For(sessionId);
        var expiresAt = check.ExpiresAt ?? DateTimeOffset.UtcNow.Add(credentials.SessionLifetime);
        if (check.SessionRefreshed)
        {
            SessionCookies.Issue(Context, sessionToken, expiresAt, csrf);
        }
        else if (Request.Cookies[CsrfTokens.CookieName] != csrf)
        {
            SessionCookies.IssueCsrf(Context, csrf, expiresAt);
        }
    }
}
