using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet;

/// <summary>Every route of the fleet operations half (costs, budgets, drift, tasks, providers, profiles) refuses
/// anonymous callers (401) and callers below seed 004's "Min Role" (403), before reading anything.</summary>
public sealed class FleetCostsDriftTasksAccessTests(FleetFixture fixture) : FleetTest(fixture)
{
    private const string Id = "0195a0d0-0000-7000-8000-000000000001";

    public static TheoryData<string, string> AllRoutes => new()
    {
        { "GET", "/api/v1/costs/summary" }, { "GET", "/api/v1/costs/trends" }, { "GET", "/api/v1/costs/idle" }, { "GET", "/api/v1/costs/idle-instances" },
        { "GET", "/api/v1/costs/pricing" }, { "GET", $"/api/v1/costs/instances/{Id}" }, { "GET", "/api/v1/costs/breakdown" }, { "GET", "/api/v1/costs/alerts" },
        { "GET", "/api/v1/costs/recommendations" }, { "POST", $"/api/v1/costs/recommendations/{Id}/dismiss" }, { "POST", "/api/v1/costs/recommendations/analyze" },
        { "GET", "/api/v1/costs/budgets" }, { "POST", "/api/v1/costs/budgets" }, { "GET", $"/api/v1/costs/budgets/{Id}" }, { "PUT", $"/api/v1/costs/budgets/{Id}" },
        { "PATCH", $"/api/v1/costs/budgets/{Id}" }, { "DELETE", $"/api/v1/costs/budgets/{Id}" },
        { "GET", "/api/v1/drift/summary" }, { "GET", "/api/v1/drift/snapshots" }, { "GET", $"/api/v1/drift/snapshots/{Id}" }, { "POST", $"/api/v1/drift/snapshots/{Id}/trigger" },
        { "GET", "/api/v1/drift/events" }, { "POST", $"/api/v1/drift/events/{Id}/resolve" }, { "POST", $"/api/v1/drift/events/{Id}/remediate" },
        { "POST", $"/api/v1/drift/remediations/{Id}/execute" }, { "POST", $"/api/v1/drift/remediations/{Id}/dismiss" }, { "GET", $"/api/v1/drift/instances/{Id}/latest" },
        { "GET", "/api/v1/tasks/templates" }, { "GET", "/api/v1/tasks" }, { "POST", "/api/v1/tasks" }, { "GET", $"/api/v1/tasks/{Id}" }, { "PUT", $"/api/v1/tasks/{Id}" },
        { "DELETE", $"/api/v1/tasks/{Id}" }, { "POST", $"/api/v1/tasks/{Id}/pause" }, { "POST", $"/api/v1/tasks/{Id}/resume" }, { "POST", $"/api/v1/tasks/{Id}/trigger" },
        { "GET", $"/api/v1/tasks/{Id}/history" },
        { "GET", "/api/v1/providers" }, { "GET", "/api/v1/providers/fly/regions" }, { "GET", "/api/v1/providers/fly/compute-catalog" },
        { "GET", "/api/v1/providers/fly/compute-catalog/estimate" }, { "POST", "/api/v1/providers/fly/compute-catalog/refresh" }, { "GET", "/api/v1/profiles" },
    };

    /// <summary>Routes whose minimum role is above viewer, with the role just below it.</summary>
    public static TheoryData<string, string, BaseRole> RestrictedRoutes => new()
    {
        { "POST", $"/api/v1/costs/recommendations/{Id}/dismiss", BaseRole.Developer },
        { "POST", "/api/v1/costs/recommendations/analyze", BaseRole.Developer },
        { "POST", "/api/v1/costs/budgets", BaseRole.Developer },
        { "PUT", $"/api/v1/costs/budgets/{Id}", BaseRole.Developer },
        { "PATCH", $"/api/v1/costs/budgets/{Id}", BaseRole.Developer },
        { "DELETE", $"/api/v1/costs/budgets/{Id}", BaseRole.Developer },
        { "POST", $"/api/v1/drift/snapshots/{Id}/trigger", BaseRole.Developer },
        { "POST", $"/api/v1/drift/events/{Id}/resolve", BaseRole.Developer },
        { "POST", $"/api/v1/drift/events/{Id}/remediate", BaseRole.Developer },
        { "POST", $"/api/v1/drift/remediations/{Id}/execute", BaseRole.Developer },
        { "POST", $"/api/v1/drift/remediations/{Id}/dismiss", BaseRole.Developer },
        { "POST", "/api/v1/providers/fly/compute-catalog/refresh", BaseRole.Operator },
    };

    [Theory]
    [MemberData(nameof(AllRoutes))]
    public async Task Anonymous_callers_get_401(string method, string path)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        await (await Client.SendAsync(request)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [MemberData(nameof(RestrictedRoutes))]
    public async Task Callers_below_the_minimum_role_get_403(string method, string path, BaseRole role)
    {
        var client = await As(role);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT" or "PATCH")
        {
            request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        }

        await (await client.SendAsync(request)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}
