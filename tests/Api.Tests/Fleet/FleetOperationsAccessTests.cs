using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet;

/// <summary>The extension, security, vault, registry and integration routes refuse anonymous callers (401) and callers
/// below seed 004's "Min Role" (403), before reading anything.</summary>
public sealed class FleetOperationsAccessTests(FleetFixture fixture) : FleetTest(fixture)
{
    private const string Id = "0195a0d0-0000-7000-8000-000000000001";

    public static TheoryData<string, string> AllRoutes => new()
    {
        { "GET", "/api/v1/extensions" }, { "GET", "/api/v1/extensions/categories" }, { "GET", "/api/v1/extensions/summary" },
        { "GET", $"/api/v1/extensions/{Id}" }, { "POST", "/api/v1/extensions" }, { "PUT", $"/api/v1/extensions/{Id}" }, { "DELETE", $"/api/v1/extensions/{Id}" },
        { "GET", $"/api/v1/extensions/{Id}/analytics" }, { "GET", $"/api/v1/extensions/{Id}/dependencies" }, { "GET", "/api/v1/extensions/usage/matrix" },
        { "POST", "/api/v1/extensions/usage" }, { "GET", "/api/v1/extensions/policies" }, { "POST", "/api/v1/extensions/policies" },
        { "DELETE", $"/api/v1/extensions/policies/{Id}" }, { "GET", $"/api/v1/extensions/policies/effective/{Id}" },
        { "POST", "/api/v1/secrets" }, { "PUT", $"/api/v1/secrets/{Id}" }, { "DELETE", $"/api/v1/secrets/{Id}" }, { "POST", $"/api/v1/secrets/{Id}/rotate" },
        { "GET", $"/api/v1/secrets/{Id}/value" },
        { "GET", "/api/v1/security/summary" }, { "GET", "/api/v1/security/vulnerabilities" }, { "GET", $"/api/v1/security/vulnerabilities/{Id}" },
        { "POST", $"/api/v1/security/vulnerabilities/{Id}/acknowledge" }, { "POST", $"/api/v1/security/vulnerabilities/{Id}/fix" },
        { "POST", $"/api/v1/security/vulnerabilities/{Id}/false-positive" }, { "GET", "/api/v1/security/bom" }, { "POST", $"/api/v1/security/scan/{Id}" },
        { "GET", "/api/v1/security/compliance" }, { "GET", "/api/v1/security/secrets" }, { "POST", "/api/v1/security/secrets" },
        { "POST", $"/api/v1/security/secrets/{Id}/rotate" }, { "GET", "/api/v1/security/ssh-keys" }, { "POST", "/api/v1/security/ssh-keys" },
        { "POST", $"/api/v1/security/ssh-keys/{Id}/revoke" }, { "POST", "/api/v1/security/advisories/import" },
        { "GET", "/api/v1/registry/extensions" }, { "GET", "/api/v1/registry/extensions/categories" }, { "GET", "/api/v1/registry/profiles" },
        { "GET", "/api/v1/registry/version" },
        { "GET", "/api/v1/integrations" }, { "GET", "/api/v1/integrations/fly-pricing" }, { "GET", "/api/v1/integrations/providers" },
        { "GET", "/api/v1/integrations/providers/fly" },
    };

    /// <summary>Routes whose minimum role is above viewer, with the role just below it.</summary>
    public static TheoryData<string, string, BaseRole> RestrictedRoutes => new()
    {
        { "POST", "/api/v1/extensions", BaseRole.Developer },
        { "PUT", $"/api/v1/extensions/{Id}", BaseRole.Developer },
        { "DELETE", $"/api/v1/extensions/{Id}", BaseRole.Operator },
        { "POST", "/api/v1/extensions/policies", BaseRole.Developer },
        { "DELETE", $"/api/v1/extensions/policies/{Id}", BaseRole.Developer },
        { "POST", "/api/v1/secrets", BaseRole.Developer },
        { "PUT", $"/api/v1/secrets/{Id}", BaseRole.Developer },
        { "DELETE", $"/api/v1/secrets/{Id}", BaseRole.Developer },
        { "POST", $"/api/v1/secrets/{Id}/rotate", BaseRole.Developer },
        { "GET", $"/api/v1/secrets/{Id}/value", BaseRole.Operator },
        { "POST", "/api/v1/security/advisories/import", BaseRole.Operator },
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
