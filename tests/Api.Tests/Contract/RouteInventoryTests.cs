using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Contract;

/// <summary>
/// The route inventory is the contract: every row is mapped and documented. Areas listed in
/// <see cref="StrictAreas"/> must be complete; for the others the coverage is printed, and each area joins the strict
/// list when its issue lands.
/// </summary>
public sealed class RouteInventoryTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    private static readonly string[] StrictAreas = ["platform", "identity", "access", "clusters", "gitops", "delivery", "fleet"];

    /// <summary>Rows of strict areas still being built, each with the reason; this list only shrinks.</summary>
    private static readonly Dictionary<string, string> Pending = new()
    {
    };

    [Fact]
    public void The_inventory_is_the_seed_inventory()
    {
        RouteInventory.Rows.Count.ShouldBe(354);
        RouteInventory.Rows.Select(row => row.Key).Distinct().Count().ShouldBe(354);
    }

    [Fact]
    public async Task Every_row_of_a_strict_area_is_mapped_and_documented()
    {
        var mapped = MappedRoutes();
        var documented = await DocumentedRoutesAsync();

        var missing = RouteInventory.Rows
            .Where(row => StrictAreas.Contains(row.Area) && !Pending.ContainsKey(row.Key))
            .Where(row => !mapped.Contains(row.Key) || !documented.Contains(row.Key))
            .Select(row => $"{row} (mapped: {mapped.Contains(row.Key)}, documented: {documented.Contains(row.Key)})")
            .ToList();

        missing.ShouldBeEmpty();
    }

    [Fact]
    public void Pending_rows_are_really_not_mapped_yet()
    {
        var mapped = MappedRoutes();

        Pending.Keys.Where(mapped.Contains).ShouldBeEmpty("a pending route is mapped now: take it off the pending list");
    }

    [Fact]
    public async Task Coverage_per_area_is_reported()
    {
        var mapped = MappedRoutes();
        var documented = await DocumentedRoutesAsync();

        foreach (var area in RouteInventory.Rows.GroupBy(row => row.Area).OrderBy(group => group.Key))
        {
            var done = area.Count(row => mapped.Contains(row.Key) && documented.Contains(row.Key));
            output.WriteLine($"{area.Key,-10} {done,3}/{area.Count(),3} routes mapped and documented{(StrictAreas.Contains(area.Key) ? " (strict)" : string.Empty)}");
        }

        var extras = mapped.Except(RouteInventory.Rows.Select(row => row.Key)).Order().ToList();
        output.WriteLine($"routes beyond the inventory: {string.Join(", ", extras)}");
    }

    [Fact]
    public void Every_mapped_route_states_its_access()
    {
        var silent = Endpoints()
            .Where(endpoint => endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null
                && endpoint.Metadata.GetMetadata<IAuthorizeData>() is null
                && endpoint.Metadata.GetMetadata<AgentAuthenticated>() is null)
            .Select(endpoint => endpoint.DisplayName)
            .ToList();

        silent.ShouldBeEmpty("every route requires a permission, is an agent route (.RequireAgent()) or is public on purpose (.AllowAnonymous())");
    }

    [Fact]
    public void Agent_routes_are_exactly_the_agent_rows_of_the_inventory_and_state_nothing_else()
    {
        var agentRows = RouteInventory.Rows.Where(row => row.SeedAuth.Contains("003:agent", StringComparison.Ordinal)).Select(row => row.Key).ToHashSet();
        var agentRoutes = Endpoints().Where(endpoint => endpoint.Metadata.GetMetadata<AgentAuthenticated>() is not null).ToList();

        agentRoutes.SelectMany(endpoint => (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => RouteInventory.Key(method, endpoint.RoutePattern.RawText ?? string.Empty)))
            .ToHashSet().ShouldBe(agentRows, ignoreOrder: true);
        foreach (var endpoint in agentRoutes)
        {
            endpoint.RoutePattern.RawText!.ShouldStartWith("/api/v1/agents/{id}/");
            endpoint.Metadata.GetMetadata<IAllowAnonymous>().ShouldBeNull(endpoint.DisplayName);
            endpoint.Metadata.GetMetadata<IAuthorizeData>().ShouldBeNull(endpoint.DisplayName);
        }
    }

    [Fact]
    public void Each_route_requires_what_its_seed_states()
    {
        var endpointsByKey = Endpoints()
            .SelectMany(endpoint => (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => (Key: RouteInventory.Key(method, endpoint.RoutePattern.RawText ?? string.Empty), Endpoint: endpoint)))
            .ToLookup(pair => pair.Key, pair => pair.Endpoint);
        var mismatches = new List<string>();
        var pinned = 0;
        foreach (var row in RouteInventory.Rows.Where(row => row.SeedAuth.Length > 0))
        {
            foreach (var endpoint in endpointsByKey[row.Key])
            {
                foreach (var claim in row.SeedAuth.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                {
                    pinned++;
                    if (SeedClaimMismatch(claim, endpoint) is { } problem)
                    {
                        mismatches.Add($"{row}: the seed says '{claim}', {problem}");
                    }
                }
            }
        }

        output.WriteLine($"{pinned} seed authorization statements checked against the routes' metadata");
        pinned.ShouldBeGreaterThan(200);
        mismatches.ShouldBeEmpty();
    }

    /// <summary>Why the route's metadata contradicts one statement of the seed's auth column (seed 003: public, bearer,
    /// bearer + permission, agent, user_id; seed 004: the minimum role, None or Any), or null when it agrees.</summary>
    private static string? SeedClaimMismatch(string claim, RouteEndpoint endpoint)
    {
        var permission = endpoint.Metadata.GetMetadata<RequiredPermission>()?.Permission;
        var minimumRole = permission is null ? (BaseRole?)null : PermissionCatalog.Get(permission).MinimumRole;
        var isPublic = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
        var signedIn = !isPublic && endpoint.Metadata.GetMetadata<IAuthorizeData>() is not null;
        const string BearerPlus = "003:bearer + ";
        return claim switch
        {
            "003:public" or "004:None" => isPublic ? null : "but the route is not public",
            "004:Any" => isPublic || minimumRole == BaseRole.Viewer ? null : $"but the route needs {minimumRole}",
            "003:agent" => endpoint.Metadata.GetMetadata<AgentAuthenticated>() is not null ? null : "but the route does not authenticate agents",
            "003:bearer" or "003:user_id" => signedIn ? null : "but the route does not require a signed-in caller",
            _ when claim.StartsWith(BearerPlus, StringComparison.Ordinal) =>
                permission == claim[BearerPlus.Length..] ? null : $"but the route requires '{permission ?? "no permission"}'",
            _ when claim.StartsWith("004:", StringComparison.Ordinal) && Enum.TryParse<BaseRole>(claim[4..], ignoreCase: true, out var role) =>
                minimumRole == role ? null : $"but the route's permission '{permission ?? "none"}' starts at {minimumRole?.ToString() ?? "no role"}",
            _ => "which this test does not understand",
        };
    }

    private IEnumerable<RouteEndpoint> Endpoints() =>
        Fixture.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();

    private HashSet<string> MappedRoutes() =>
    [
        .. Endpoints().SelectMany(endpoint =>
            (endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
                .Select(method => RouteInventory.Key(method, endpoint.RoutePattern.RawText ?? string.Empty))),
    ];

    private async Task<HashSet<string>> DocumentedRoutesAsync()
    {
        var document = JsonDocument.Parse(await Client.GetStringAsync("/api/docs/openapi.json")).RootElement;
        var routes = new HashSet<string>();
        foreach (var path in document.GetProperty("paths").EnumerateObject())
        {
            foreach (var operation in path.Value.EnumerateObject())
            {
                routes.Add(RouteInventory.Key(operation.Name, path.Name));
            }
        }

        return routes;
    }
}
