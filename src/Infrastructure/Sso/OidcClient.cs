using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Capstan.Infrastructure.Sso;

/// <summary>Where a provider's endpoints are, from its configuration and, for what it leaves out, its discovery
/// document.</summary>
public sealed record SsoEndpoints(
    string? Issuer,
    string AuthorizationEndpoint,
    string TokenEndpoint,
    string? UserInfoEndpoint,
    string? JwksUri,
    bool ClientSecretBasic);

/// <summary>What the token endpoint answered (never logged, never stored).</summary>
public sealed record SsoTokens(string AccessToken, string? IdToken);

/// <summary>A step of the protocol failed; <see cref="Reason"/> is the machine reason the login page receives. The
/// message never carries a token or secret.</summary>
public sealed class SsoProtocolException(string reason, string message) : Exception(message)
{
    public string Reason { get; } = reason;
}

/// <summary>
/// The relying-party side of OpenID Connect and OAuth2 over HTTP: discovery (<c>/.well-known/openid-configuration</c>),
/// the authorization-code exchange (client secret and PKCE verifier), ID token validation against the provider's JWKS
/// (RS256 signature, issuer, audience, expiry, nonce) and the userinfo endpoint. Discovery documents and key sets are
/// cached for ten minutes; an unknown key id refetches the key set once (key rotation).
/// </summary>
public sealed class OidcClient(IHttpClientFactory httpClients, TimeProvider clock, ILogger<OidcClient> logger)
{
    public const string HttpClientName = "sso";

    private static readonly TimeSpan CacheLifetime = TimeSpan.FromMinutes(10);
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(2);

    private readonly ConcurrentDictionary<string, (DateTimeOffset FetchedAt, JsonObject Document)> _discovery = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (DateTimeOffset FetchedAt, JsonWebKeySet Keys)> _keySets = new(StringComparer.Ordinal);
    private readonly JsonWebTokenHandler _tokens = new();

    /// <summary>The provider's endpoints: configured URLs first, the public defaults of GitHub, Google and GitLab,
    /// then the issuer's discovery document for whatever is still missing.</summary>
    public async Task<SsoEndpoints> ResolveAsync(SsoProvider provider, CancellationToken cancellationToken)
    {
        var issuer = provider.IssuerUrl ?? provider.Type switch
        {
            SsoProviderTypes.Google => "https://accounts.google.com",
            SsoProviderTypes.GitLab => "https://gitlab.com",
            _ => null,
        };
        string? authorization = provider.AuthorizationUrl, token = provider.TokenUrl, userInfo = provider.UserInfoUrl, jwks = provider.JwksUrl;
        var basic = false;
        if (provider.Type == SsoProviderTypes.GitHub)
        {
            authorization ??= "https://github.com/login/oauth/authorize";
            token ??= "https://github.com/login/oauth/access_token";
            userInfo ??= "https://api.github.com/user";
        }
        else if (issuer is not null)
        {
            var needsDiscovery = authorization is null || token is null || jwks is null;
            if (needsDiscovery)
            {
                var document = await DiscoverAsync(issuer, cancellationToken);
                var discoveredIssuer = Text(document["issuer"]);
                if (discoveredIssuer is null || !SameIssuer(discoveredIssuer, issuer))
                {
                    throw new SsoProtocolException("provider_unavailable", "The discovery document names another issuer");
                }

                issuer = discoveredIssuer;
                authorization ??= Text(document["authorization_endpoint"]);
                token ??= Text(document["token_endpoint"]);
                userInfo ??= Text(document["userinfo_endpoint"]);
                jwks ??= Text(document["jwks_uri"]);
                // RFC 8414: without the list, client_secret_basic is the default.
                basic = document["token_endpoint_auth_methods_supported"] is not JsonArray methods
                    || methods.Any(method => Text(method) == "client_secret_basic");
            }
        }

        if (authorization is null || token is null)
        {
            throw new SsoProtocolException("provider_unavailable", "The provider's authorization or token endpoint is unknown");
        }

        return new SsoEndpoints(issuer, authorization, token, userInfo, jwks, basic);
    }

    /// <summary>Trades an authorization code for tokens (RFC 6749 §4.1.3, with the PKCE verifier of RFC 7636).</summary>
    public async Task<SsoTokens> ExchangeCodeAsync(
        SsoEndpoints endpoints, SsoProvider provider, string clientSecret, string code, string redirectUri, string? codeVerifier, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "authorization_code"),
            new("code", code),
            new("redirect_uri", redirectUri),
        };
        if (!string.IsNullOrEmpty(codeVerifier))
        {
            form.Add(new("code_verifier", codeVerifier));
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, endpoints.TokenEndpoint);
        if (endpoints.ClientSecretBasic)
        {
            // RFC 6749 §2.3.1: both parts form-encoded before they are joined.
            var credentials = $"{Uri.EscapeDataString(provider.ClientId)}:{Uri.EscapeDataString(clientSecret)}";
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
            form.Add(new("client_id", provider.ClientId));
        }
        else
        {
            form.Add(new("client_id", provider.ClientId));
            form.Add(new("client_secret", clientSecret));
        }

        request.Content = new FormUrlEncodedContent(form);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        var body = await SendForJsonAsync(request, "token_exchange_failed", "token endpoint", cancellationToken);
        if (Text(body["access_token"]) is not { Length: > 0 } accessToken)
        {
            // GitHub answers 200 with {"error": ...} for a bad code.
            logger.LogWarning("The token endpoint of provider {Provider} refused the code: {Error}", provider.Name, ErrorCodeOf(body));
            throw new SsoProtocolException("token_exchange_failed", "The provider did not issue an access token");
        }

        return new SsoTokens(accessToken, Text(body["id_token"]));
    }

    /// <summary>Validates an ID token (RS256 signature from the provider's key set, issuer, audience = client id,
    /// expiry, nonce) and returns its claims.</summary>
    public async Task<JsonObject> ValidateIdTokenAsync(SsoEndpoints endpoints, SsoProvider provider, string idToken, string nonce, CancellationToken cancellationToken)
    {
        if (endpoints.JwksUri is null || endpoints.Issuer is null)
        {
            throw new SsoProtocolException("invalid_id_token", "The provider's issuer or key set is unknown");
        }

        JsonWebToken parsed;
        try
        {
            parsed = new JsonWebToken(idToken);
        }
        catch (ArgumentException)
        {
            throw new SsoProtocolException("invalid_id_token", "The ID token is not a JWT");
        }

        var keys = await KeySetAsync(endpoints.JwksUri, parsed.Kid, cancellationToken);
        var now = clock.GetUtcNow().UtcDateTime;
        var result = await _tokens.ValidateTokenAsync(parsed, new TokenValidationParameters
        {
            ValidIssuers = [endpoints.Issuer.TrimEnd('/'), endpoints.Issuer.TrimEnd('/') + "/"],
            ValidAudience = provider.ClientId,
            IssuerSigningKeys = keys.GetSigningKeys(),
            ValidAlgorithms = [SecurityAlgorithms.RsaSha256],
            RequireSignedTokens = true,
            RequireExpirationTime = true,
            ValidateLifetime = true,
            LifetimeValidator = (notBefore, expires, _, _) =>
                expires is { } exp && exp + ClockSkew > now && (notBefore is not { } nbf || nbf - ClockSkew <= now),
        });
        if (!result.IsValid)
        {
            logger.LogWarning("Provider {Provider} sent an ID token that failed validation: {Failure}", provider.Name, result.Exception?.GetType().Name);
            throw new SsoProtocolException("invalid_id_token", "The ID token failed validation");
        }

        var claims = JsonNode.Parse(Base64UrlEncoder.Decode(parsed.EncodedPayload)) as JsonObject
            ?? throw new SsoProtocolException("invalid_id_token", "The ID token has no claims");
        var tokenNonce = Text(claims["nonce"]);
        if (tokenNonce is null || !Security.SecretTokens.FixedTimeEquals(tokenNonce, nonce))
        {
            logger.LogWarning("Provider {Provider} sent an ID token with a wrong or missing nonce", provider.Name);
            throw new SsoProtocolException("invalid_id_token", "The ID token's nonce does not match the sign-in");
        }

        return claims;
    }

    /// <summary>The signed-in user's profile from the userinfo (or GitHub user) endpoint.</summary>
    public async Task<JsonObject> ReadUserInfoAsync(string userInfoEndpoint, string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, userInfoEndpoint);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        // GitHub's API refuses requests without a User-Agent.
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("capstan", "1.0"));
        return await SendForJsonAsync(request, "userinfo_failed", "userinfo endpoint", cancellationToken);
    }

    private async Task<JsonObject> DiscoverAsync(string issuer, CancellationToken cancellationToken)
    {
        if (_discovery.TryGetValue(issuer, out var cached) && clock.GetUtcNow() - cached.FetchedAt < CacheLifetime)
        {
            return cached.Document;
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, issuer.TrimEnd('/') + "/.well-known/openid-configuration");
        var document = await SendForJsonAsync(request, "provider_unavailable", "discovery document", cancellationToken);
        _discovery[issuer] = (clock.GetUtcNow(), document);
        return document;
    }

    private async Task<JsonWebKeySet> KeySetAsync(string jwksUri, string? keyId, CancellationToken cancellationToken)
    {
        if (_keySets.TryGetValue(jwksUri, out var cached) && clock.GetUtcNow() - cached.FetchedAt < CacheLifetime
            && (string.IsNullOrEmpty(keyId) || cached.Keys.Keys.Any(key => key.Kid == keyId)))
        {
            return cached.Keys;
        }

        using var request = new HttpRequestMessage(HttpMethod.Get, jwksUri);
        var document = await SendForJsonAsync(request, "provider_unavailable", "key set", cancellationToken);
        JsonWebKeySet keys;
        try
        {
            keys = new JsonWebKeySet(document.ToJsonString());
        }
        catch (ArgumentException)
        {
            throw new SsoProtocolException("provider_unavailable", "The provider's key set is malformed");
        }

        _keySets[jwksUri] = (clock.GetUtcNow(), keys);
        return keys;
    }

    private async Task<JsonObject> SendForJsonAsync(HttpRequestMessage request, string reason, string what, CancellationToken cancellationToken)
    {
        var client = httpClients.CreateClient(HttpClientName);
        HttpResponseMessage response;
        try
        {
            response = await client.SendAsync(request, cancellationToken);
        }
        catch (Exception exception) when (exception is HttpRequestException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("The provider's {What} at {Host} did not answer: {Failure}", what, request.RequestUri?.Host, exception.GetType().Name);
            throw new SsoProtocolException(reason, $"The provider's {what} did not answer");
        }

        using (response)
        {
            var text = await response.Content.ReadAsStringAsync(cancellationToken);
            JsonObject? body = null;
            try
            {
                body = JsonNode.Parse(text) as JsonObject;
            }
            catch (JsonException)
            {
                // Reported below without the body, which may hold anything.
            }

            if (!response.IsSuccessStatusCode || body is null)
            {
                logger.LogWarning(
                    "The provider's {What} at {Host} answered {Status} ({Error})",
                    what,
                    request.RequestUri?.Host,
                    (int)response.StatusCode,
                    body is null ? "not JSON" : ErrorCodeOf(body));
                throw new SsoProtocolException(reason, $"The provider's {what} answered {(int)response.StatusCode}");
            }

            return body;
        }
    }

    // Only the OAuth error code, a fixed vocabulary; descriptions may echo request values.
    private static string ErrorCodeOf(JsonObject body) =>
        Text(body["error"]) is { Length: <= 64 } code
            && code.All(character => char.IsAsciiLetterOrDigit(character) || character is '_' or '-' or '.')
            ? code
            : "no error code";

    public static string? Text(JsonNode? node) => node?.GetValueKind() == JsonValueKind.String ? node.GetValue<string>() : null;

    private static bool SameIssuer(string a, string b) => string.Equals(a.TrimEnd('/'), b.TrimEnd('/'), StringComparison.Ordinal);
}
