using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Contract;

/// <summary>
/// Every mapped route, generated from the endpoints themselves so a new route cannot skip it: anonymous callers get
/// 401 unless the route is public by design, and a viewer gets 403 wherever the route's permission is above viewer.
/// </summary>
public sealed class AuthorizationSweepTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    [Fact]
    public async Task Anonymous_callers_get_401_on_every_route_that_is_not_public_by_design()
    {
        var failures = new List<string>();
        var swept = 0;
        foreach (var (method, url, endpoint) in Routes())
        {
            if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null)
            {
                continue;
            }

            swept++;
            using var request = new HttpRequestMessage(new HttpMethod(method), url);
            var response = await Client.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Unauthorized)
            {
                failures.Add($"{method} {url} -> {(int)response.StatusCode}");
            }
        }

        output.WriteLine($"anonymous sweep: {swept} protected routes");
        failures.ShouldBeEmpty();
    }

    [Fact]
    public async Task A_viewer_gets_403_wherever_the_permission_is_above_viewer()
    {
        var (viewer, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        var failures = new List<string>();
        var swept = 0;
        foreach (var (method, url, endpoint) in Routes())
        {
            if (endpoint.Metadata.GetMetadata<RequiredPermission>() is not { } required
                || PermissionCatalog.Get(required.Permission).MinimumRole == BaseRole.Viewer)
            {
                continue;
            }

            swept++;
            using var request = new HttpRequestMessage(new HttpMethod(method), url);
            var response = await viewer.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.Forbidden)
            {
                failures.Add($"{method} {url} ({required.Permission}) -> {(int)response.StatusCode}");
            }
        }

        output.WriteLine($"viewer sweep: {swept} routes above viewer");
        failures.ShouldBeEmpty();
    }

    private IEnumerable<(string Method, string Url, RouteEndpoint Endpoint)> Routes()
    {
        foreach (var endpoint in Fixture.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                yield return (method, Concrete(endpoint.RoutePattern), endpoint);
            }
        }
    }

    private static string Concrete(RoutePattern pattern) =>
        "/" + string.Join('/', pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart parameter when parameter.ParameterPolicies.Any(policy => policy.Content == "int") => "1",
            RoutePatternParameterPart => "00000000-0000-0000-0000-0000000000f1",
            RoutePatternSeparatorPart separator => separator.Content,
            _ => string.Empty,
        }))));
}
