using System.Net;
using System.Net.Http.Json;
using Capstan.Api.Tests.Contract;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Delivery;

/// <summary>Every delivery row of the route inventory: 401 without credentials, 403 for the base role just below the
/// route's permission, and 404 when one user names another user's workflow, version, run, build, import or resource
/// (BOLA), with the object left untouched.</summary>
public sealed class DeliveryAccessTests(DeliveryFixture fixture, FakeKubernetesFixture fake) : DeliveryTest(fixture, fake)
{
    private const string Unknown = "00000000-0000-0000-0000-0000000000f1";

    private static IEnumerable<RouteInventory.Row> DeliveryRows => RouteInventory.Rows.Where(row => row.Area == "delivery");

    private static string Concrete(string route) =>
        System.Text.RegularExpressions.Regex.Replace(route, "\\{(version)\\}", "1").Replace("{fixType}", "selector-fix", StringComparison.Ordinal)
            .Replace("{nodeId}", "n2", StringComparison.Ordinal).Replace("{id}", Unknown, StringComparison.Ordinal);

    [Fact]
    public async Task The_inventory_holds_61_delivery_routes_and_each_needs_credentials()
    {
        DeliveryRows.Count().ShouldBe(61);
        var failures = new List<string>();
        foreach (var row in DeliveryRows)
        {
            using var request = new HttpRequestMessage(new HttpMethod(row.Method), Concrete(row.Route));
            var response = await Client.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                failures.Add($"{row} anonymous -> {(int)response.StatusCode}");
            }
        }

        failures.ShouldBeEmpty();
    }

    [Fact]
    public async Task The_role_below_each_routes_permission_is_refused()
    {
        var permissions = Fixture.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<Microsoft.AspNetCore.Routing.HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => (Key: RouteInventory.Key(method, "/" + endpoint.RoutePattern.RawText!.TrimStart('/')), Permission: endpoint.Metadata.GetMetadata<RequiredPermission>()?.Permission)))
            .GroupBy(pair => pair.Key)
            .ToDictionary(group => group.Key, group => group.First().Permission);
        var clients = new Dictionary<BaseRole, HttpClient>();
        foreach (var role in new[] { BaseRole.Viewer, BaseRole.Developer, BaseRole.Operator })
        {
            clients[role] = (await Fixture.ClientAsAsync(role)).Client;
        }

        var failures = new List<string>();
        var checkedRoutes = 0;
        foreach (var row in DeliveryRows)
        {
            var permission = permissions.GetValueOrDefault(row.Key) ?? throw new InvalidOperationException($"{row} has no permission");
            var minimum = PermissionCatalog.Get(permission).MinimumRole;
            if (minimum == BaseRole.Viewer)
            {
                continue;
            }

            checkedRoutes++;
            var below = minimum - 1;
            using var request = new HttpRequestMessage(new HttpMethod(row.Method), Concrete(row.Route));
            var response = await clients[below].SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Forbidden)
            {
                failures.Add($"{row} as {below} ({permission}) -> {(int)response.StatusCode}");
            }
        }

        failures.ShouldBeEmpty();
        checkedRoutes.ShouldBe(31);
    }

    [Fact]
    public async Task Another_users_objects_are_404_on_every_route_that_names_them()
    {
        await RegisterClusterAsync();
        var (owner, ownerUser) = await DeveloperAsync();
        var (intruder, _) = await DeveloperAsync();
        var workflow = await PublishedWebAppAsync(owner);
        await RunAsync(owner, workflow);
        var build = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.builds (id, user_id, repo_url, branch, image_name, image_tag, status) VALUES (@Id, @User, 'https://git.example/x.git', 'main', 'x', 'latest', 'building')",
            new { Id = build, User = ownerUser.Id });
        var import = Guid.CreateVersion7();
        await Fixture.ExecuteAsync("INSERT INTO delivery.import_sessions (id, user_id, source, status) VALUES (@Id, @User, 'file', 'analyzing')", new { Id = import, User = ownerUser.Id });
        var resource = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO delivery.resources (id, user_id, cluster_name, namespace, name, kind, api_version, status) VALUES (@Id, @User, 'prod', 'default', 'web-1', 'Pod', 'v1', 'running')",
            new { Id = resource, User = ownerUser.Id });

        var w = $"/v1/api/workflows/{workflow}";
        var calls = new (string Method, string Url, object? Body)[]
        {
            ("GET", w, null),
            ("PUT", w, new { name = "mine" }),
            ("DELETE", w, null),
            ("POST", $"{w}/clone", new { name = "stolen" }),
            ("PUT", $"{w}/status", new { status = "archived" }),
            ("POST", $"{w}/save", new { nodes = Array.Empty<object>(), edges = Array.Empty<object>() }),
            ("POST", $"{w}/run", null),
            ("GET", $"{w}/runs", null),
            ("GET", $"{w}/status/stream", null),
            ("GET", $"{w}/nodes/n2/diagnostics", null),
            ("GET", $"{w}/nodes/n2/fix-template/selector-fix", null),
            ("POST", $"{w}/nodes/n2/fix", new { fixType = "selector-fix", yaml = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-svc\n" }),
            ("GET", $"{w}/versions", null),
            ("GET", $"{w}/versions/1", null),
            ("POST", $"{w}/versions", new { name = "x" }),
            ("PUT", $"{w}/versions/1", new { name = "x" }),
            ("POST", $"{w}/versions/1/restore", null),
            ("GET", $"{w}/versions/compare?v1=1&v2=2", null),
            ("POST", "/v1/api/import/apply", new { workflowId = workflow, nodes = new[] { new { id = "x", type = "configmap", data = new { name = "x" } } } }),
            ("GET", $"/v1/api/builds/{build}", null),
            ("GET", $"/v1/api/builds/{build}/stream", null),
            ("POST", $"/v1/api/builds/{build}/cancel", null),
            ("GET", $"/v1/api/import/{import}", null),
            ("GET", $"/v1/api/import/{import}/stream", null),
            ("GET", $"/v1/api/resources/{resource}", null),
            ("PATCH", $"/v1/api/resources/{resource}", new { userNotes = "mine", userTags = new[] { "x" }, isFavorite = true }),
            ("GET", $"/v1/api/resources/{resource}/stream", null),
            ("GET", $"/v1/api/resources/{resource}/logs/stream", null),
            ("GET", $"/v1/api/resources/{resource}/pods", null),
        };
        Api.ClearRequests();
        var failures = new List<string>();
        foreach (var (method, url, body) in calls)
        {
            using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = body is null ? null : JsonContent.Create(body) };
            var response = await intruder.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.NotFound)
            {
                failures.Add($"{method} {url} -> {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            }
        }

        failures.ShouldBeEmpty();
        Api.Requests.ShouldBeEmpty("nothing reached the cluster for the intruder");
        var stored = await (await owner.GetAsync(w)).ShouldBeJsonAsync();
        stored.GetProperty("name").GetString().ShouldBe("shop");
        stored.GetProperty("status").GetString().ShouldBe("published");
        (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.builds WHERE id = @Id", new { Id = build })).ShouldBe("building");
        (await Fixture.ScalarAsync<string>("SELECT user_notes FROM delivery.resources WHERE id = @Id", new { Id = resource })).ShouldBe(string.Empty);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.workflows")).ShouldBe(1);

        // And the lists of the intruder show none of it.
        (await (await intruder.GetAsync("/v1/api/workflows")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
        (await (await intruder.GetAsync("/v1/api/builds")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
        (await (await intruder.GetAsync("/v1/api/resources")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
        var search = await (await intruder.GetAsync("/v1/api/search?q=shop")).ShouldBeJsonAsync();
        search.GetProperty("workflows").GetArrayLength().ShouldBe(0);
    }

    [Theory]
    [InlineData("GET", "/v1/api/workflows/not-a-uuid")]
    [InlineData("GET", "/v1/api/builds/not-a-uuid")]
    [InlineData("GET", "/v1/api/import/not-a-uuid")]
    [InlineData("GET", "/v1/api/resources/not-a-uuid")]
    [InlineData("GET", "/v1/api/registries/not-a-uuid")]
    public async Task A_malformed_id_is_a_400(string method, string url)
    {
        var (client, _) = await DeveloperAsync();

        await (await client.SendAsync(new HttpRequestMessage(new HttpMethod(method), url))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unknown_ids_are_404()
    {
        var (client, _) = await DeveloperAsync();

        foreach (var url in new[] { $"/v1/api/workflows/{Unknown}", $"/v1/api/builds/{Unknown}", $"/v1/api/import/{Unknown}", $"/v1/api/resources/{Unknown}", $"/v1/api/registries/{Unknown}", "/v1/api/plugins/no-such-plugin" })
        {
            await (await client.GetAsync(url)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        }
    }

}
