using System.Net;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Contract;

/// <summary>
/// Every mapped route, generated from the endpoints themselves so a new route cannot skip it: anonymous callers get
/// 401 unless the route is public by design, and a viewer gets 403 wherever the route's permission is above viewer.
/// Opt-in features are swept twice: switched off their routes are a 404 for everyone; switched on (a host of its own
/// with every feature key set) they follow the rules above.
/// </summary>
public sealed class AuthorizationSweepTests(ApiFixture fixture, ITestOutputHelper output) : ApiTest(fixture)
{
    [Fact]
    public async Task With_features_at_their_defaults()
    {
        var (viewer, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        await SweepAsync(Fixture.Services, Client, viewer);
    }

    [Fact]
    public async Task With_every_opt_in_feature_switched_on()
    {
        var keys = Endpoints(Fixture.Services)
            .SelectMany(endpoint => endpoint.Metadata.GetOrderedMetadata<RequiresFeature>())
            .SelectMany(feature => feature.ConfigurationKeys.Take(1))
            .Distinct()
            .ToDictionary(key => key, _ => (string?)"true");
        await using var factory = new ApiFactory(PostgresServer.CreateDatabase("sweep"), keys);
        await factory.WaitUntilReadyAsync();
        var (viewer, _) = await factory.ClientAsAsync(BaseRole.Viewer);

        await SweepAsync(factory.Services, factory.CreateClient(), viewer);
    }

    private async Task SweepAsync(IServiceProvider services, HttpClient anonymous, HttpClient viewer)
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        var failures = new List<string>();
        int protectedRoutes = 0, aboveViewer = 0, hidden = 0;
        foreach (var endpoint in Endpoints(services))
        {
            foreach (var method in endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"])
            {
                var url = Concrete(endpoint.RoutePattern);
                var feature = endpoint.Metadata.GetMetadata<RequiresFeature>();
                if (feature is not null && !feature.IsEnabled(configuration))
                {
                    hidden++;
                    await ExpectAsync(anonymous, method, url, HttpStatusCode.NotFound, "feature off", failures);
                    continue;
                }

                if (endpoint.Metadata.GetMetadata<IAllowAnonymous>() is null)
                {
                    protectedRoutes++;
                    await ExpectAsync(anonymous, method, url, HttpStatusCode.Unauthorized, "anonymous", failures);
                }

                if (endpoint.Metadata.GetMetadata<RequiredPermission>() is { } required
                    && PermissionCatalog.Get(required.Permission).MinimumRole > BaseRole.Viewer)
                {
                    aboveViewer++;
                    await ExpectAsync(viewer, method, url, HttpStatusCode.Forbidden, $"viewer, {required.Permission}", failures);
                }
            }
        }

        output.WriteLine($"swept: {protectedRoutes} routes need credentials, {aboveViewer} are above viewer, {hidden} hidden behind features that are off");
        failures.ShouldBeEmpty();
    }

    private static async Task ExpectAsync(HttpClient client, string method, string url, HttpStatusCode expected, string who, List<string> failures)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url);
        var response = await client.SendAsync(request);
        if (response.StatusCode != expected)
        {
            failures.Add($"{method} {url} as {who} -> {(int)response.StatusCode}, expected {(int)expected}");
        }
    }

    private static IEnumerable<RouteEndpoint> Endpoints(IServiceProvider services) =>
        services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>();

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
