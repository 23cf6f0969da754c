using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// Tests a registry's login against its Docker Registry API (<c>GET /v2/</c>): Basic authentication first; when the
/// registry answers with a Bearer challenge, a token is fetched from the challenge's realm with the login (as
/// <c>docker login</c> does) and <c>/v2/</c> retried with it. ECR logins are AWS keys exchanged for a token by the AWS
/// API, which is not configured here, so they cannot be tested.
/// </summary>
public static partial class RegistryProbe
{
    private static readonly HttpClient Http = new(new SocketsHttpHandler
    {
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        AllowAutoRedirect = true,
    })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>Tests a stored registry and records the outcome (<c>status</c> connected or failed, <c>last_check</c>,
    /// <c>last_error</c>); returns why it failed, or null. False when the registry is gone.</summary>
    public static async Task<(bool Found, string? Error)> TestAndRecordAsync(IServiceProvider services, Guid registryId, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<DbSession>();
        var registry = await db.QuerySingleOrDefaultAsync<RegistryRecord>(
            "SELECT id, name, registry_type, registry_url, is_default, credentials FROM delivery.registries WHERE id = @Id",
            new { Id = registryId },
            cancellationToken);
        if (registry is null)
        {
            return (false, null);
        }

        var credentials = RegistryCredentials.Open(services.GetRequiredService<EnvelopeCipher>(), registry.Id, registry.Credentials);
        var error = await TestAsync(registry.RegistryType, registry.RegistryUrl, credentials, cancellationToken);
        await db.ExecuteAsync(
            "UPDATE delivery.registries SET status = @Status, last_check = now(), last_error = @Error WHERE id = @Id",
            new { Id = registryId, Status = error is null ? "connected" : "failed", Error = error },
            cancellationToken);
        return (true, error);
    }

    /// <summary>Null when the login works, else why not.</summary>
    public static async Task<string?> TestAsync(string registryType, string? registryUrl, RegistryCredentials credentials, CancellationToken cancellationToken)
    {
        if (registryType == ContainerRegistries.Ecr)
        {
            return "ECR logins are exchanged for a token by the AWS API, which is not configured: the connection cannot be tested";
        }

        if (ContainerRegistries.ApiBase(registryType, registryUrl) is not { } baseUri)
        {
            return "The registry has no URL to test";
        }

        if (credentials.BasicAuth(registryType) is not { } login)
        {
            return "The registry has no login to test";
        }

        var v2 = new Uri(baseUri, "v2/");
        var basic = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{login.Username}:{login.Password}")));
        try
        {
            using var first = await SendAsync(v2, basic, cancellationToken);
            if (first.IsSuccessStatusCode)
            {
                return null;
            }

            if (first.StatusCode != HttpStatusCode.Unauthorized)
            {
                return $"The registry answered {(int)first.StatusCode} to /v2/";
            }

            var challenge = first.Headers.WwwAuthenticate.FirstOrDefault(value => value.Scheme.Equals("Bearer", StringComparison.OrdinalIgnoreCase));
            if (challenge?.Parameter is not { } parameter || Parameter(parameter, "realm") is not { } realm || !Uri.TryCreate(realm, UriKind.Absolute, out var realmUri))
            {
                return "The registry rejected the login (401)";
            }

            var query = new List<string> { "account=" + Uri.EscapeDataString(login.Username) };
            if (Parameter(parameter, "service") is { } service)
            {
                query.Add("service=" + Uri.EscapeDataString(service));
            }

            var tokenUri = new UriBuilder(realmUri) { Query = string.Join('&', query) }.Uri;
            using var tokenResponse = await SendAsync(tokenUri, basic, cancellationToken);
            if (!tokenResponse.IsSuccessStatusCode)
            {
                return $"The registry's token service rejected the login ({(int)tokenResponse.StatusCode})";
            }

            var body = JsonNode.Parse(await tokenResponse.Content.ReadAsStringAsync(cancellationToken)) as JsonObject;
            var token = NodeData.Text(body?["token"]) ?? NodeData.Text(body?["access_token"]);
            if (token is null)
            {
                return "The registry's token service answered without a token";
            }

            using var second = await SendAsync(v2, new AuthenticationHeaderValue("Bearer", token), cancellationToken);
            return second.IsSuccessStatusCode ? null : $"The registry rejected the token ({(int)second.StatusCode})";
        }
        catch (HttpRequestException exception)
        {
            return $"The registry could not be reached: {exception.HttpRequestError}";
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return "The registry did not answer within 10 seconds";
        }
        catch (System.Text.Json.JsonException)
        {
            return "The registry's token service answered something that is not JSON";
        }
    }

    private static async Task<HttpResponseMessage> SendAsync(Uri uri, AuthenticationHeaderValue authorization, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, uri);
        request.Headers.Authorization = authorization;
        return await Http.SendAsync(request, cancellationToken);
    }

    private static string? Parameter(string challenge, string name) =>
        ChallengeParameter().Matches(challenge).FirstOrDefault(match => match.Groups["name"].Value.Equals(name, StringComparison.OrdinalIgnoreCase))?.Groups["value"].Value;

    [GeneratedRegex("(?<name>[A-Za-z]+)=\"(?<value>[^\"]*)\"")]
    private static partial Regex ChallengeParameter();
}
