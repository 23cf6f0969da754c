using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet;

/// <summary>Every fleet route of this issue refuses anonymous callers (401) and callers below seed 004's "Min Role"
/// for it (403), before reading anything.</summary>
public sealed class FleetAccessTests(FleetFixture fixture) : FleetTest(fixture)
{
    private const string Id = "0195a0d0-0000-7000-8000-000000000001";

    public static TheoryData<string, string> AllRoutes => new()
    {
        { "GET", "/api/v1/fleet/stats" }, { "GET", "/api/v1/fleet/geo" }, { "GET", "/api/v1/fleet/deployments" },
        { "POST", "/api/v1/instances" }, { "GET", "/api/v1/instances" }, { "GET", $"/api/v1/instances/{Id}" }, { "DELETE", $"/api/v1/instances/{Id}" },
        { "POST", $"/api/v1/instances/{Id}/suspend" }, { "POST", $"/api/v1/instances/{Id}/resume" }, { "POST", $"/api/v1/instances/{Id}/backup" },
        { "POST", "/api/v1/instances/bulk-action" }, { "GET", $"/api/v1/instances/{Id}/lifecycle" }, { "POST", $"/api/v1/instances/{Id}/heartbeat" },
        { "GET", "/api/v1/metrics/timeseries" }, { "GET", "/api/v1/metrics/timeseries/range" }, { "GET", "/api/v1/metrics/aggregate" },
        { "GET", "/api/v1/metrics/latest" }, { "GET", $"/api/v1/instances/{Id}/metrics" }, { "GET", $"/api/v1/instances/{Id}/processes" },
        { "GET", $"/api/v1/instances/{Id}/extensions" }, { "GET", $"/api/v1/instances/{Id}/events" },
        { "GET", "/api/v1/logs" }, { "GET", "/api/v1/logs/stats" }, { "GET", "/api/v1/logs/stream" }, { "POST", "/api/v1/logs/ingest" },
        { "POST", "/api/v1/logs/ingest/batch" }, { "GET", $"/api/v1/logs/{Id}" }, { "GET", $"/api/v1/instances/{Id}/logs" },
        { "GET", $"/api/v1/instances/{Id}/logs/stats" }, { "GET", $"/api/v1/instances/{Id}/logs/stream" },
        { "GET", "/api/v1/alerts" }, { "GET", "/api/v1/alerts/summary" }, { "GET", $"/api/v1/alerts/{Id}" }, { "POST", $"/api/v1/alerts/{Id}/acknowledge" },
        { "POST", $"/api/v1/alerts/{Id}/resolve" }, { "POST", "/api/v1/alerts/bulk-acknowledge" }, { "POST", "/api/v1/alerts/bulk-resolve" },
        { "GET", "/api/v1/alerts/rules" }, { "POST", "/api/v1/alerts/rules" }, { "GET", $"/api/v1/alerts/rules/{Id}" }, { "PUT", $"/api/v1/alerts/rules/{Id}" },
        { "DELETE", $"/api/v1/alerts/rules/{Id}" }, { "POST", $"/api/v1/alerts/rules/{Id}/enable" }, { "POST", $"/api/v1/alerts/rules/{Id}/disable" },
        { "GET", "/api/v1/alerts/channels" }, { "POST", "/api/v1/alerts/channels" }, { "GET", $"/api/v1/alerts/channels/{Id}" },
        { "PUT", $"/api/v1/alerts/channels/{Id}" }, { "DELETE", $"/api/v1/alerts/channels/{Id}" }, { "POST", $"/api/v1/alerts/channels/{Id}/test" },
        { "POST", "/api/v1/commands" }, { "POST", "/api/v1/commands/bulk" }, { "POST", "/api/v1/commands/script" }, { "GET", "/api/v1/commands/history" },
        { "GET", $"/api/v1/commands/{Id}" }, { "POST", "/api/v1/deployments" }, { "GET", $"/api/v1/deployments/{Id}" },
        { "GET", "/api/v1/templates" }, { "POST", "/api/v1/templates" }, { "GET", "/api/v1/templates/some-slug" }, { "DELETE", $"/api/v1/templates/{Id}" },
        { "GET", "/ws/agent" },
    };

    /// <summary>Routes whose minimum role is above viewer, with the role just below it.</summary>
    public static TheoryData<string, string, BaseRole> RestrictedRoutes => new()
    {
        { "DELETE", $"/api/v1/instances/{Id}", BaseRole.Developer },
        { "POST", $"/api/v1/instances/{Id}/suspend", BaseRole.Developer },
        { "POST", $"/api/v1/instances/{Id}/resume", BaseRole.Developer },
        { "POST", $"/api/v1/instances/{Id}/backup", BaseRole.Developer },
        { "POST", "/api/v1/instances/bulk-action", BaseRole.Developer },
        { "POST", $"/api/v1/alerts/{Id}/acknowledge", BaseRole.Developer },
        { "POST", $"/api/v1/alerts/{Id}/resolve", BaseRole.Developer },
        { "POST", "/api/v1/alerts/bulk-acknowledge", BaseRole.Developer },
        { "POST", "/api/v1/alerts/bulk-resolve", BaseRole.Developer },
        { "POST", "/api/v1/alerts/rules", BaseRole.Developer },
        { "PUT", $"/api/v1/alerts/rules/{Id}", BaseRole.Developer },
        { "DELETE", $"/api/v1/alerts/rules/{Id}", BaseRole.Developer },
        { "POST", $"/api/v1/alerts/rules/{Id}/enable", BaseRole.Developer },
        { "POST", $"/api/v1/alerts/rules/{Id}/disable", BaseRole.Developer },
        { "POST", "/api/v1/alerts/channels", BaseRole.Developer },
        { "PUT", $"/api/v1/alerts/channels/{Id}", BaseRole.Developer },
        { "DELETE", $"/api/v1/alerts/channels/{Id}", BaseRole.Developer },
        { "POST", $"/api/v1/alerts/channels/{Id}/test", BaseRole.Developer },
        { "POST", "/api/v1/commands", BaseRole.Viewer },
        { "POST", "/api/v1/commands/bulk", BaseRole.Developer },
        { "POST", "/api/v1/commands/script", BaseRole.Viewer },
        { "POST", "/api/v1/templates", BaseRole.Developer },
        { "DELETE", $"/api/v1/templates/{Id}", BaseRole.Operator },
    };

    [Theory]
    [MemberData(nameof(AllRoutes))]
    public async Task Anonymous_callers_get_401(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        var response = await Client.SendAsync(request);

        await response.ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [MemberData(nameof(RestrictedRoutes))]
    public async Task The_role_below_the_minimum_gets_403(string method, string path, BaseRole role)
    {
        var client = await As(role);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        var response = await client.SendAsync(request);

        await response.ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}
