using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Security;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Sso;

/// <summary>How a flow ends: seed 000 starts a session with cookies, seed 002 hands the browser a one-time code.</summary>
public static class SsoFlows
{
    public const string Session = "session";
    public const string Exchange = "exchange";
}

/// <summary>Why a sign-in failed, as the login page receives it (<c>?error=</c>); Gyre's reasons plus the protocol's.</summary>
public static class SsoReasons
{
    public const string InvalidRequest = "invalid_request";
    public const string InvalidState = "invalid_state";
    public const string ProviderNotFound = "provider_not_found";
    public const string ProviderDisabled = "provider_disabled";
    public const string ProviderError = "provider_error";
    public const string ProviderMisconfigured = "provider_misconfigured";
    public const string InvalidUserInfo = "invalid_user_info";
    public const string UserNotFound = "user_not_found";
    public const string UserDisabled = "user_disabled";
    public const string SignupDisabled = "signup_disabled";
    public const string AutoProvisionDisabled = "auto_provision_disabled";
    public const string DomainNotAllowed = "domain_not_allowed";
    public const string EmailInUse = "email_in_use";
    public const string RateLimited = "rate_limited";
}

public sealed record SsoStart(string AuthorizationUrl, string State, DateTimeOffset ExpiresAt);

/// <summary>What the provider sent back to the callback, plus the state cookie the browser carried.</summary>
public sealed record SsoCallback(Guid ProviderId, string Flow, string? Code, string? State, string? StateCookie, string? ProviderError);

public sealed record SsoUser(Guid Id, string Username, string? Email, string Name, string Role, string AuthProvider, string? AvatarUrl, DateTime CreatedAt);

public sealed record SsoResult(SsoUser? User, string? Reason)
{
    public static SsoResult Failed(string reason) => new(null, reason);
}

/// <summary>
/// The authorization-code flow with PKCE (S256), state and nonce, shared by both seeds' sign-in routes. Start stores
/// the state server-side (<c>identity.oauth_states</c>: single use, ten minutes, with the verifier, nonce and redirect
/// URI) and binds it to the browser with a cookie; complete checks cookie and state, consumes the row, exchanges the
/// code, validates the ID token (or reads the profile for GitHub) and finds or provisions the user. Outcomes are
/// returned, not thrown, so the consumed state and the audit row commit with the request.
/// </summary>
public sealed class SsoFlow(
    OidcClient oidc,
    SsoProvisioning provisioning,
    EnvelopeCipher cipher,
    AuditTrail audit,
    TimeProvider clock,
    ILogger<SsoFlow> logger)
{
    public static readonly TimeSpan StateLifetime = TimeSpan.FromMinutes(10);

    private const string InsertState = """
        INSERT INTO identity.oauth_states (state_hash, provider_id, code_verifier, nonce, flow, created_at, expires_at, redirect_uri)
        VALUES (@StateHash, @ProviderId, @CodeVerifier, @Nonce, @Flow, @Now, @ExpiresAt, @RedirectUri)
        """;

    private const string ConsumeState = """
        DELETE FROM identity.oauth_states
        WHERE state_hash = @StateHash AND provider_id = @ProviderId AND flow = @Flow
        RETURNING code_verifier, nonce, expires_at, redirect_uri
        """;

    public static string StateCookieName(Guid providerId) => $"oauth_state_{providerId:N}";

    /// <summary>Where the service is reachable from browsers, to build callback URLs: <c>Identity:PublicUrl</c> when it
    /// sits behind a proxy, else the request's own origin.</summary>
    public static string PublicOrigin(HttpRequest request, IConfiguration configuration)
    {
        var configured = configuration["Identity:PublicUrl"];
        return string.IsNullOrWhiteSpace(configured) ? $"{request.Scheme}://{request.Host}{request.PathBase}" : configured.Trim().TrimEnd('/');
    }

    /// <summary>Binds the flow to this browser: only the browser that started it can finish it.</summary>
    public static void IssueStateCookie(HttpContext context, Guid providerId, SsoStart start) =>
        context.Response.Cookies.Append(StateCookieName(providerId), start.State, new CookieOptions
        {
            HttpOnly = true,
            // Lax: the provider's redirect back is a top-level navigation from another site.
            SameSite = SameSiteMode.Lax,
            Secure = context.Request.IsHttps,
            Path = "/",
            Expires = start.ExpiresAt,
        });

    public static void ClearStateCookie(HttpContext context, Guid providerId) =>
        context.Response.Cookies.Delete(StateCookieName(providerId), new CookieOptions { Path = "/" });

    /// <summary>Stores a new flow and returns the provider URL to send the browser to. Throws
    /// <see cref="SsoProtocolException"/> when the provider's endpoints cannot be found.</summary>
    public async Task<SsoStart> StartAsync(DbSession db, SsoProvider provider, string flow, string redirectUri, CancellationToken cancellationToken)
    {
        var endpoints = await oidc.ResolveAsync(provider, cancellationToken);
        var state = SecretTokens.Generate();
        var nonce = SecretTokens.Generate();
        var verifier = provider.UsePkce ? SecretTokens.Generate() : string.Empty;
        var now = clock.GetUtcNow();
        var expiresAt = now + StateLifetime;
        await db.ExecuteAsync(
            InsertState,
            new
            {
                StateHash = SecretTokens.Hash(state),
                ProviderId = provider.Id,
                CodeVerifier = verifier,
                Nonce = nonce,
                Flow = flow,
                Now = now.UtcDateTime,
                ExpiresAt = expiresAt.UtcDateTime,
                RedirectUri = redirectUri,
            },
            cancellationToken);

        var query = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = provider.ClientId,
            ["redirect_uri"] = redirectUri,
            ["scope"] = provider.Scopes,
            ["state"] = state,
        };
        if (SsoProviderTypes.UsesIdToken(provider.Type))
        {
            query["nonce"] = nonce;
        }

        if (provider.UsePkce)
        {
            query["code_challenge"] = Base64UrlChallenge(verifier);
            query["code_challenge_method"] = "S256";
        }

        audit.Record("auth.sso_start", "auth_provider", provider.Id.ToString(), provider.Name, new { flow });
        return new SsoStart(QueryHelpers.AddQueryString(endpoints.AuthorizationEndpoint, query), state, expiresAt);
    }

    /// <summary>Finishes a flow: the signed-in user, or the reason it failed.</summary>
    public async Task<SsoResult> CompleteAsync(DbSession db, SsoCallback callback, CancellationToken cancellationToken)
    {
        var provider = await SsoProvider.FindAsync(db, callback.ProviderId, cancellationToken);
        var result = await CompleteCoreAsync(db, provider, callback, cancellationToken);
        if (result.User is { } user)
        {
            audit.Record(new AuditEntry(
                "auth.sso_login", "user", user.Id.ToString(), user.Username, new { method = "sso", provider = provider?.Name, flow = callback.Flow })
            {
                ActorType = "user",
                ActorId = user.Id,
                ActorName = user.Username,
            });
        }
        else
        {
            logger.LogInformation("SSO sign-in through provider {ProviderId} failed: {Reason}", callback.ProviderId, result.Reason);
            audit.Record(new AuditEntry(
                "auth.sso_login",
                "auth_provider",
                callback.ProviderId.ToString(),
                provider?.Name,
                new { method = "sso", flow = callback.Flow, error_kind = result.Reason },
                AuditResult.Denied)
            { ActorType = "anonymous" });
        }

        return result;
    }

    private async Task<SsoResult> CompleteCoreAsync(DbSession db, SsoProvider? provider, SsoCallback callback, CancellationToken cancellationToken)
    {
        var stateMatches = !string.IsNullOrEmpty(callback.State) && !string.IsNullOrEmpty(callback.StateCookie)
            && SecretTokens.FixedTimeEquals(callback.State, callback.StateCookie);
        var pending = stateMatches
            ? await db.QuerySingleOrDefaultAsync<PendingFlow>(
                ConsumeState, new { StateHash = SecretTokens.Hash(callback.State!), callback.ProviderId, callback.Flow }, cancellationToken)
            : null;

        if (!string.IsNullOrEmpty(callback.ProviderError))
        {
            // The provider refused (the user cancelled, or the client is misconfigured); its code names why.
            var code = callback.ProviderError.Trim().ToLowerInvariant();
            return SsoResult.Failed(code.Length <= 64 && code.All(character => char.IsAsciiLetterLower(character) || character == '_') ? code : SsoReasons.ProviderError);
        }

        if (string.IsNullOrEmpty(callback.Code) || string.IsNullOrEmpty(callback.State))
        {
            return SsoResult.Failed(SsoReasons.InvalidRequest);
        }

        if (pending is null || pending.ExpiresAt <= clock.GetUtcNow().UtcDateTime)
        {
            return SsoResult.Failed(SsoReasons.InvalidState);
        }

        if (provider is null)
        {
            return SsoResult.Failed(SsoReasons.ProviderNotFound);
        }

        if (!provider.Enabled)
        {
            return SsoResult.Failed(SsoReasons.ProviderDisabled);
        }

        string clientSecret;
        try
        {
            clientSecret = cipher.DecryptString(provider.ClientSecret, SsoProvider.SecretBinding(provider.Id));
        }
        catch (CryptographicException)
        {
            logger.LogError("The client secret of provider {Provider} cannot be decrypted (was the master key changed?)", provider.Name);
            return SsoResult.Failed(SsoReasons.ProviderMisconfigured);
        }

        JsonObject claims;
        try
        {
            var endpoints = await oidc.ResolveAsync(provider, cancellationToken);
            var tokens = await oidc.ExchangeCodeAsync(
                endpoints, provider, clientSecret, callback.Code, pending.RedirectUri ?? string.Empty, pending.CodeVerifier, cancellationToken);
            claims = await ReadClaimsAsync(endpoints, provider, tokens, pending.Nonce, cancellationToken);
        }
        catch (SsoProtocolException failure)
        {
            return SsoResult.Failed(failure.Reason);
        }

        return await provisioning.SignInAsync(db, provider, claims, cancellationToken);
    }

    // OpenID Connect: the validated ID token, completed by userinfo when it names the same subject. GitHub: its profile.
    private async Task<JsonObject> ReadClaimsAsync(SsoEndpoints endpoints, SsoProvider provider, SsoTokens tokens, string nonce, CancellationToken cancellationToken)
    {
        if (!SsoProviderTypes.UsesIdToken(provider.Type))
        {
            return endpoints.UserInfoEndpoint is { } profile
                ? await oidc.ReadUserInfoAsync(profile, tokens.AccessToken, cancellationToken)
                : throw new SsoProtocolException("userinfo_failed", "The provider has no profile endpoint");
        }

        if (tokens.IdToken is null)
        {
            throw new SsoProtocolException("invalid_id_token", "The provider did not return an ID token");
        }

        var claims = await oidc.ValidateIdTokenAsync(endpoints, provider, tokens.IdToken, nonce, cancellationToken);
        if (endpoints.UserInfoEndpoint is not { } userInfoEndpoint)
        {
            return claims;
        }

        try
        {
            var userInfo = await oidc.ReadUserInfoAsync(userInfoEndpoint, tokens.AccessToken, cancellationToken);
            if (OidcClient.Text(userInfo["sub"]) == OidcClient.Text(claims["sub"]))
            {
                foreach (var (name, value) in userInfo)
                {
                    if (!claims.ContainsKey(name))
                    {
                        claims[name] = value?.DeepClone();
                    }
                }
            }
        }
        catch (SsoProtocolException)
        {
            // The ID token alone is enough to sign in.
        }

        return claims;
    }

    private static string Base64UrlChallenge(string verifier) =>
        Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier)));

    private sealed record PendingFlow(string CodeVerifier, string Nonce, DateTime ExpiresAt, string? RedirectUri);
}
