using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>
/// The ID token an OIDC-authenticated cluster accepts: the configured one while it is valid, otherwise a new one from
/// the issuer's token endpoint (found by discovery) through the refresh-token grant. Tokens are kept in memory only.
/// </summary>
internal sealed class OidcTokenSource(OidcCredentials credentials, string cluster) : IDisposable
{
    private static readonly TimeSpan Skew = TimeSpan.FromSeconds(30);

    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(15) };
    private readonly SemaphoreSlim _lock = new(1, 1);
    private string? _idToken = credentials.IdToken;
    private string? _refreshToken = credentials.RefreshToken;

    public async Task<string> GetTokenAsync(CancellationToken cancellationToken)
    {
        if (_idToken is { } current && ExpiresAt(current) > DateTimeOffset.UtcNow + Skew)
        {
            return current;
        }

        await _lock.WaitAsync(cancellationToken);
        try
        {
            if (_idToken is { } again && ExpiresAt(again) > DateTimeOffset.UtcNow + Skew)
            {
                return again;
            }

            if (string.IsNullOrEmpty(_refreshToken))
            {
                throw new KubernetesApiException(503, $"The OIDC token of cluster '{cluster}' expired and no refresh token is configured; update the cluster's credentials", 0, "Unauthorized", "Service Unavailable");
            }

            _idToken = await RefreshAsync(cancellationToken);
            return _idToken;
        }
        finally
        {
            _lock.Release();
        }
    }

    public void Dispose()
    {
        _http.Dispose();
        _lock.Dispose();
    }

    private async Task<string> RefreshAsync(CancellationToken cancellationToken)
    {
        try
        {
            var discovery = await _http.GetFromJsonNodeAsync(credentials.IssuerUrl.TrimEnd('/') + "/.well-known/openid-configuration", cancellationToken);
            var tokenEndpoint = discovery?["token_endpoint"]?.ToString()
                ?? throw new KubernetesApiException(503, $"The OIDC issuer of cluster '{cluster}' names no token endpoint", 0, "OidcDiscovery", "Service Unavailable");
            var form = new Dictionary<string, string>
            {
                ["grant_type"] = "refresh_token",
                ["refresh_token"] = _refreshToken!,
                ["client_id"] = credentials.ClientId,
            };
            if (!string.IsNullOrEmpty(credentials.ClientSecret))
            {
                form["client_secret"] = credentials.ClientSecret;
            }

            form["scope"] = string.IsNullOrWhiteSpace(credentials.Scopes) ? "openid" : credentials.Scopes.Replace(',', ' ');
            using var response = await _http.PostAsync(tokenEndpoint, new FormUrlEncodedContent(form), cancellationToken);
            var body = JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken)) as JsonObject;
            if (!response.IsSuccessStatusCode || body?["id_token"]?.ToString() is not { Length: > 0 } idToken)
            {
                throw new KubernetesApiException(503, $"The OIDC issuer of cluster '{cluster}' refused to refresh the token ({(int)response.StatusCode}); update the cluster's credentials", 0, "Unauthorized", "Service Unavailable");
            }

            if (body["refresh_token"]?.ToString() is { Length: > 0 } rotated)
            {
                _refreshToken = rotated;
            }

            return idToken;
        }
        catch (Exception exception) when (exception is HttpRequestException or JsonException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw new KubernetesApiException(503, $"The OIDC issuer of cluster '{cluster}' is unreachable", 0, "Unreachable", "Service Unavailable");
        }
    }

    // The exp claim, read without verifying: the API server verifies; we only decide when to refresh.
    private static DateTimeOffset ExpiresAt(string jwt)
    {
        var parts = jwt.Split('.');
        if (parts.Length < 2)
        {
            return DateTimeOffset.MinValue;
        }

        try
        {
            var payload = parts[1].Replace('-', '+').Replace('_', '/');
            payload = payload.PadRight(payload.Length + ((4 - (payload.Length % 4)) % 4), '=');
            var claims = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(payload)));
            return claims?["exp"] is JsonValue exp && exp.TryGetValue<long>(out var seconds) ? DateTimeOffset.FromUnixTimeSeconds(seconds) : DateTimeOffset.MaxValue;
        }
        catch (Exception exception) when (exception is FormatException or JsonException)
        {
            return DateTimeOffset.MinValue;
        }
    }
}

internal static class HttpClientJsonNodeExtensions
{
    public static async Task<JsonNode?> GetFromJsonNodeAsync(this HttpClient client, string url, CancellationToken cancellationToken)
    {
        using var response = await client.GetAsync(url, cancellationToken);
        response.EnsureSuccessStatusCode();
        return JsonNode.Parse(await response.Content.ReadAsStringAsync(cancellationToken));
    }
}
