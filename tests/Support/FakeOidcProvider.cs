using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Logging;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Capstan.Tests.Support;

/// <summary>The user the fake provider signs in next.</summary>
public sealed record FakeOidcUser(
    string Subject,
    string? Username,
    string? Email,
    string? Name = null,
    IReadOnlyList<string>? Groups = null,
    string? Picture = null);

/// <summary>Ways the fake provider's ID token can be wrong, to test that the service refuses it.</summary>
public enum IdTokenFault
{
    None,
    WrongNonce,
    WrongAudience,
    WrongIssuer,
    Expired,
    ForeignKey,
    Unsigned,
    Missing,
}

/// <summary>
/// A small OpenID Connect provider for tests: an in-process Kestrel app on a random loopback port serving discovery,
/// an authorize endpoint that approves at once as <see cref="User"/> (redirecting back with code and state), a token
/// endpoint that checks the code, the client credentials (basic or post), the redirect URI and the PKCE S256 verifier
/// and answers an RS256-signed ID token carrying the nonce, the JWKS and userinfo (OIDC claims, or GitHub's profile
/// shape with <see cref="GitHubProfile"/>). Every token it issues is recorded so tests can prove none leaks.
/// </summary>
public sealed class FakeOidcProvider : IAsyncDisposable
{
    public const string ClientId = "capstan-test-client";
    public const string ClientSecret = "fake-oidc-client-secret-7Qp!Zr";

    private readonly WebApplication _app;
    private readonly RSA _rsa = RSA.Create(2048);
    private readonly RsaSecurityKey _signingKey;
    private readonly ConcurrentDictionary<string, Grant> _grants = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeOidcUser> _accessTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _issued = new();
    private readonly ConcurrentQueue<string> _tokenRequestErrors = new();

    private FakeOidcProvider(WebApplication app)
    {
        _app = app;
        _signingKey = new RsaSecurityKey(_rsa) { KeyId = "fake-key-1" };
    }

    public string Issuer { get; private set; } = string.Empty;

    public FakeOidcUser User { get; set; } = DefaultUser;

    public IdTokenFault Fault { get; set; }

    /// <summary>An OAuth error the authorize endpoint answers instead of a code (for example <c>access_denied</c>).</summary>
    public string? AuthorizeError { get; set; }

    /// <summary>Userinfo answers GitHub's <c>/user</c> shape (<c>id</c>, <c>login</c>, <c>avatar_url</c>).</summary>
    public bool GitHubProfile { get; set; }

    /// <summary>The token endpoint's answer status when not 200 (to simulate an outage).</summary>
    public HttpStatusCode? TokenEndpointFailure { get; set; }

    /// <summary>Access and ID tokens it has issued (never to appear in the service's rows, logs or answers).</summary>
    public IReadOnlyCollection<string> IssuedTokens => _issued;

    /// <summary>Why token requests were refused.</summary>
    public IReadOnlyCollection<string> TokenRequestErrors => _tokenRequestErrors;

    /// <summary>The last authorization request's query (response_type, client_id, scope, nonce, code_challenge, …).</summary>
    public IReadOnlyDictionary<string, string> LastAuthorizeQuery { get; private set; } = new Dictionary<string, string>();

    public int TokenRequests { get; private set; }

    public static FakeOidcUser DefaultUser { get; } = new("subject-0001", "alice", "alice@example.test", "Alice Example", ["developers"]);

    public static async Task<FakeOidcProvider> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var provider = new FakeOidcProvider(app);
        provider.Map(app);
        await app.StartAsync();
        provider.Issuer = app.Urls.First().TrimEnd('/');
        return provider;
    }

    public void Reset()
    {
        User = DefaultUser;
        Fault = IdTokenFault.None;
        AuthorizeError = null;
        GitHubProfile = false;
        TokenEndpointFailure = null;
        LastAuthorizeQuery = new Dictionary<string, string>();
        TokenRequests = 0;
        _tokenRequestErrors.Clear();
        _issued.Clear();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        _rsa.Dispose();
    }

    private void Map(WebApplication app)
    {
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Issuer,
            ["authorization_endpoint"] = $"{Issuer}/authorize",
            ["token_endpoint"] = $"{Issuer}/token",
            ["userinfo_endpoint"] = $"{Issuer}/userinfo",
            ["jwks_uri"] = $"{Issuer}/jwks",
            ["response_types_supported"] = new[] { "code" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
            ["token_endpoint_auth_methods_supported"] = new[] { "client_secret_basic", "client_secret_post" },
        }));

        app.MapGet("/jwks", () =>
        {
            var parameters = _rsa.ExportParameters(false);
            return Results.Json(new
            {
                keys = new[]
                {
                    new { kty = "RSA", use = "sig", alg = "RS256", kid = _signingKey.KeyId, n = Base64UrlEncoder.Encode(parameters.Modulus), e = Base64UrlEncoder.Encode(parameters.Exponent) },
                },
            });
        });

        app.MapGet("/authorize", (HttpRequest request) =>
        {
            var query = request.Query.ToDictionary(pair => pair.Key, pair => pair.Value.ToString(), StringComparer.Ordinal);
            LastAuthorizeQuery = query;
            if (query.GetValueOrDefault("client_id") != ClientId || query.GetValueOrDefault("response_type") != "code"
                || !query.TryGetValue("redirect_uri", out var redirectUri) || !query.TryGetValue("state", out var state))
            {
                return Results.BadRequest(new { error = "invalid_request" });
            }

            if (query.TryGetValue("code_challenge_method", out var method) && method != "S256")
            {
                return Results.BadRequest(new { error = "invalid_request", error_description = "only S256" });
            }

            if (AuthorizeError is { } refusal)
            {
                return Results.Redirect(QueryHelpers.AddQueryString(redirectUri, new Dictionary<string, string?> { ["error"] = refusal, ["state"] = state }));
            }

            var code = Random();
            _grants[code] = new Grant(redirectUri, query.GetValueOrDefault("nonce"), query.GetValueOrDefault("code_challenge"), User);
            return Results.Redirect(QueryHelpers.AddQueryString(redirectUri, new Dictionary<string, string?> { ["code"] = code, ["state"] = state }));
        });

        app.MapPost("/token", async (HttpRequest request) =>
        {
            TokenRequests++;
            if (TokenEndpointFailure is { } failure)
            {
                return Results.Json(new { error = "temporarily_unavailable" }, statusCode: (int)failure);
            }

            var form = await request.ReadFormAsync();
            var (clientId, clientSecret) = ClientCredentials(request, form);
            if (clientId != ClientId || clientSecret != ClientSecret)
            {
                return Refuse("invalid_client", "bad client credentials", 401);
            }

            if (form["grant_type"] != "authorization_code" || !_grants.TryRemove(form["code"].ToString(), out var grant))
            {
                return Refuse("invalid_grant", "unknown or used code");
            }

            if (form["redirect_uri"] != grant.RedirectUri)
            {
                return Refuse("invalid_grant", "redirect_uri differs");
            }

            if (grant.CodeChallenge is not null
                && Base64UrlEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString()))) != grant.CodeChallenge)
            {
                return Refuse("invalid_grant", "PKCE verifier does not match");
            }

            var accessToken = Random();
            _accessTokens[accessToken] = grant.User;
            _issued.Enqueue(accessToken);
            var body = new Dictionary<string, object> { ["access_token"] = accessToken, ["token_type"] = "Bearer", ["expires_in"] = 3600, ["scope"] = "openid profile email" };
            if (Fault != IdTokenFault.Missing)
            {
                var idToken = IdToken(grant);
                _issued.Enqueue(idToken);
                body["id_token"] = idToken;
            }

            return Results.Json(body);
        });

        app.MapGet("/userinfo", (HttpRequest request) =>
        {
            var authorization = request.Headers.Authorization.ToString();
            if (!authorization.StartsWith("Bearer ", StringComparison.Ordinal) || !_accessTokens.TryGetValue(authorization[7..], out var user))
            {
                return Results.Json(new { error = "invalid_token" }, statusCode: 401);
            }

            if (!GitHubProfile)
            {
                return Results.Json(Claims(user));
            }

            // GitHub's /user: a numeric id, the login, and whatever profile fields the user made public.
            var digits = new string(user.Subject.Where(char.IsDigit).ToArray());
            return Results.Json(new Dictionary<string, object?>
            {
                ["id"] = long.Parse(digits.Length > 0 ? digits : "1", System.Globalization.CultureInfo.InvariantCulture),
                ["login"] = user.Username,
                ["email"] = user.Email,
                ["name"] = user.Name,
                ["avatar_url"] = user.Picture,
            });
        });
    }

    private IResult Refuse(string error, string why, int status = 400)
    {
        _tokenRequestErrors.Enqueue(why);
        return Results.Json(new { error }, statusCode: status);
    }

    private static (string? Id, string? Secret) ClientCredentials(HttpRequest request, IFormCollection form)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization[6..])).Split(':', 2);
            return (Uri.UnescapeDataString(decoded[0]), decoded.Length > 1 ? Uri.UnescapeDataString(decoded[1]) : null);
        }

        return (form["client_id"], form["client_secret"]);
    }

    private string IdToken(Grant grant)
    {
        var now = DateTime.UtcNow;
        var claims = Claims(grant.User);
        claims["nonce"] = Fault == IdTokenFault.WrongNonce ? "not-the-nonce" : grant.Nonce ?? string.Empty;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Fault == IdTokenFault.WrongIssuer ? "https://someone-else.example" : Issuer,
            Audience = Fault == IdTokenFault.WrongAudience ? "another-client" : ClientId,
            IssuedAt = Fault == IdTokenFault.Expired ? now.AddHours(-2) : now,
            NotBefore = Fault == IdTokenFault.Expired ? now.AddHours(-2) : now,
            Expires = Fault == IdTokenFault.Expired ? now.AddHours(-1) : now.AddMinutes(10),
            Claims = claims,
        };
        if (Fault == IdTokenFault.ForeignKey)
        {
            using var foreign = RSA.Create(2048);
            descriptor.SigningCredentials = new SigningCredentials(new RsaSecurityKey(foreign) { KeyId = _signingKey.KeyId }, SecurityAlgorithms.RsaSha256);
            return new JsonWebTokenHandler().CreateToken(descriptor);
        }

        if (Fault != IdTokenFault.Unsigned)
        {
            descriptor.SigningCredentials = new SigningCredentials(_signingKey, SecurityAlgorithms.RsaSha256);
        }

        return new JsonWebTokenHandler().CreateToken(descriptor);
    }

    private static Dictionary<string, object> Claims(FakeOidcUser user)
    {
        var claims = new Dictionary<string, object> { ["sub"] = user.Subject };
        if (user.Username is not null)
        {
            claims["preferred_username"] = user.Username;
        }

        if (user.Email is not null)
        {
            claims["email"] = user.Email;
            claims["email_verified"] = true;
        }

        if (user.Name is not null)
        {
            claims["name"] = user.Name;
        }

        if (user.Groups is not null)
        {
            claims["groups"] = user.Groups.ToArray();
        }

        if (user.Picture is not null)
        {
            claims["picture"] = user.Picture;
        }

        return claims;
    }

    private static string Random() => Base64UrlEncoder.Encode(RandomNumberGenerator.GetBytes(32));

    private sealed record Grant(string RedirectUri, string? Nonce, string? CodeChallenge, FakeOidcUser User);
}
