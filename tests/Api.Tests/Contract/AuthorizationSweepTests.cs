using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Contract;

/// <summary>
/// Every mapped route, generated from the endpoints themselves so a new route cannot skip it (and checked against the
/// route inventory, whose rows not mapped yet are reported): callers without valid user credentials get 401 unless
/// the route is public by design (anonymous, an expired or revoked API key, a malformed bearer token, an access
/// agent's secret as a bearer token or in <c>X-Agent-Secret</c> outside the agent routes), and wherever the route's
/// permission is above viewer a viewer and an administrator's API key limited to the viewer role get 403. Opt-in
/// features are swept twice: switched off their routes are a 404 for everyone; switched on (a host of its own with
/// every feature key set) they follow the rules above. Foreign objects (BOLA) and agent routes have their own sweep
/// (Reliability.ObjectAndScopeSweepTests).
/// </summary>
public sealed class AuthorizationSweepTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    [Fact]
    public async Task With_features_at_their_defaults()
    {
        await SweepAsync(Fixture.Factory, Client);
    }

    [Fact]
    public async Task With_every_opt_in_feature_switched_on()
    {
        var keys = RouteSweep.Endpoints(Fixture.Services)
            .SelectMany(endpoint => endpoint.Metadata.GetOrderedMetadata<RequiresFeature>())
            .SelectMany(feature => feature.ConfigurationKeys.Take(1))
            .Distinct()
            .ToDictionary(key => key, _ => (string?)"true");
        await using var factory = new ApiFactory(PostgresServer.CreateDatabase("sweep"), keys);
        await factory.WaitUntilReadyAsync();

        await SweepAsync(factory, factory.CreateClient());
    }

    private async Task SweepAsync(ApiFactory factory, HttpClient anonymous)
    {
        var services = factory.Services;
        var configuration = services.GetRequiredService<IConfiguration>();
        var unauthenticated = await UnauthenticatedClientsAsync(factory, anonymous);
        var belowPermission = await ViewerClientsAsync(factory);
        var failures = new List<string>();
        int protectedRoutes = 0, aboveViewer = 0, hidden = 0, requests = 0;
        var routes = RouteSweep.Routes(services);
        foreach (var route in routes)
        {
            var url = RouteSweep.Concrete(route.Endpoint.RoutePattern);
            var feature = route.Endpoint.Metadata.GetMetadata<RequiresFeature>();
            if (feature is not null && !feature.IsEnabled(configuration))
            {
                hidden++;
                requests++;
                await ExpectAsync(anonymous, route.Method, url, HttpStatusCode.NotFound, "anonymous, feature off", failures);
                continue;
            }

            if (route.Endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null)
            {
                protectedRoutes++;
                foreach (var (who, client) in unauthenticated)
                {
                    requests++;
                    await ExpectAsync(client, route.Method, url, HttpStatusCode.Unauthorized, who, failures);
                }
            }

            if (route.Endpoint.Metadata.GetMetadata<RequiredPermission>() is { } required
                && PermissionCatalog.Get(required.Permission).MinimumRole > BaseRole.Viewer)
            {
                aboveViewer++;
                foreach (var (who, client) in belowPermission)
                {
                    requests++;
                    await ExpectAsync(client, route.Method, url, HttpStatusCode.Forbidden, $"{who}, {required.Permission}", failures);
                }
            }
        }

        var inventory = RouteInventory.Rows.Select(row => row.Key).ToHashSet();
        output.WriteLine(
            $"swept {routes.Count} routes with {requests} requests: {protectedRoutes} need credentials (each tried {unauthenticated.Count} ways without valid ones), " +
            $"{aboveViewer} are above viewer (each tried {belowPermission.Count} ways), {hidden} hidden behind features that are off; " +
            $"inventory rows swept {routes.Count(route => inventory.Contains(route.Key))}/{inventory.Count}, not mapped yet: {RouteSweep.PendingInventory(routes)}");
        failures.ShouldBeEmpty();
    }

    /// <summary>Clients holding no valid user credential: each must be refused with 401 on every protected route.</summary>
    private static async Task<List<(string Who, HttpClient Client)>> UnauthenticatedClientsAsync(ApiFactory factory, HttpClient anonymous)
    {
        var admin = await factory.CreateUserAsync(BaseRole.Admin);
        var expired = await factory.CreateApiKeyAsync(admin, expiresAt: DateTime.UtcNow.AddMinutes(-1));
        var revoked = await factory.CreateApiKeyAsync(admin);
        await using (var connection = new NpgsqlConnection(factory.ConnectionString))
        {
            await connection.OpenAsync();
            await using var revoke = new NpgsqlCommand("UPDATE identity.api_keys SET revoked_at = now() WHERE key_prefix = @Prefix", connection);
            revoke.Parameters.AddWithValue("Prefix", revoked[..12]);
            (await revoke.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        var adminClient = await factory.ClientAsAsync(admin);
        var minted = await (await adminClient.PostAsJsonAsync("/api/v1/agents", new { name = "sweep-agent" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var agentSecret = minted.GetProperty("agent_secret").GetString()!;

        return
        [
            ("anonymous", anonymous),
            ("expired API key", Bearer(factory, expired)),
            ("revoked API key", Bearer(factory, revoked)),
            ("malformed bearer token", Bearer(factory, "not-a-token")),
            ("agent secret as bearer token", Bearer(factory, agentSecret)),
            ("agent secret in X-Agent-Secret", WithHeader(factory, AgentAuthenticated.HeaderName, agentSecret)),
            ("agent secret in X-Api-Key", WithHeader(factory, "X-Api-Key", agentSecret)),
        ];
    }

    /// <summary>Clients acting with the viewer role: a viewer, and an administrator's API key limited to viewer.</summary>
    private static async Task<List<(string Who, HttpClient Client)>> ViewerClientsAsync(ApiFactory factory)
    {
        var (viewer, _) = await factory.ClientAsAsync(BaseRole.Viewer);
        var admin = await factory.CreateUserAsync(BaseRole.Admin);
        var limited = await factory.CreateApiKeyAsync(admin, keyRole: BaseRole.Viewer);
        return [("viewer", viewer), ("admin's API key limited to viewer", Bearer(factory, limited))];
    }

    private static HttpClient Bearer(ApiFactory factory, string token)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    private static HttpClient WithHeader(ApiFactory factory, string header, string value)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Add(header, value);
        return client;
    }

    private static async Task ExpectAsync(HttpClient client, string method, string url, HttpStatusCode expected, string who, List<string> failures)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        if (response.StatusCode != expected)
        {
            failures.Add($"{method} {url} as {who} -> {(int)response.StatusCode}, expected {(int)expected}");
        }
    }
}
