using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.Clusters;

/// <summary>Every clusters route: 401 without credentials, 403 for the base role just below its permission.</summary>
public sealed class ClustersAccessMatrixTests(ClustersFixture fixture, FakeKubernetesFixture fake) : ClustersTest(fixture, fake)
{
    public static TheoryData<string, string, BaseRole?> Routes => new()
    {
        { "POST", "/api/v1/admin/k8s/clear-client-pool", BaseRole.Operator },
        { "GET", "/api/v1/clusters", null },
        { "POST", "/api/v1/clusters", BaseRole.Operator },
        { "DELETE", "/api/v1/clusters/0195e6a2-0000-7000-8000-000000000000", BaseRole.Operator },
        { "POST", "/v1/api/clusters", BaseRole.Viewer },
        { "GET", "/v1/api/clusters", null },
        { "GET", "/v1/api/clusters/default", null },
        { "GET", "/v1/api/clusters/prod", null },
        { "PUT", "/v1/api/clusters/prod", BaseRole.Viewer },
        { "DELETE", "/v1/api/clusters/prod", BaseRole.Viewer },
        { "PUT", "/v1/api/clusters/prod/default", null },
        { "POST", "/v1/api/clusters/prod/test", BaseRole.Viewer },
        { "POST", "/v1/api/clusters/prod/refresh", BaseRole.Viewer },
        { "GET", "/v1/api/clusters/prod/status", null },
        { "GET", "/v1/api/clusters/prod/metrics", null },
        { "GET", "/v1/api/clusters/prod/logs", null },
        { "PUT", "/v1/api/clusters/prod/credentials", BaseRole.Viewer },
        { "POST", "/v1/api/clusters/prod/share", BaseRole.Viewer },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Anonymous_callers_get_401_and_the_role_below_gets_403(string method, string url, BaseRole? roleBelow)
    {
        await Fixture.RegisterClusterAsync(Api, "prod");

        await (await Client.SendAsync(Request(method, url))).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        if (roleBelow is { } role)
        {
            var (client, _) = await Fixture.ClientAsAsync(role);
            await (await client.SendAsync(Request(method, url))).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        }
    }

    [Theory]
    [InlineData("GET", "/v1/api/clusters/elsewhere")]
    [InlineData("PUT", "/v1/api/clusters/elsewhere")]
    [InlineData("DELETE", "/v1/api/clusters/elsewhere")]
    [InlineData("POST", "/v1/api/clusters/elsewhere/test")]
    [InlineData("GET", "/v1/api/clusters/elsewhere/status")]
    [InlineData("GET", "/v1/api/clusters/elsewhere/metrics")]
    [InlineData("GET", "/v1/api/clusters/elsewhere/logs")]
    [InlineData("PUT", "/v1/api/clusters/elsewhere/credentials")]
    [InlineData("POST", "/v1/api/clusters/elsewhere/share")]
    public async Task Another_users_cluster_is_not_found(string method, string url)
    {
        await Fixture.RegisterClusterAsync(Api, "elsewhere", (await Fixture.CreateUserAsync(BaseRole.Developer)).Id, scope: "user");
        var (developer, _) = await Fixture.ClientAsAsync(BaseRole.Developer);

        var response = await developer.SendAsync(Request(method, url, method is "PUT" or "POST"
            ? """{"displayName":"x","credentials":{"token":"t"},"targetUserId":"0195e6a2-0000-7000-8000-000000000000","role":"viewer"}"""
            : null));

        (await response.ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString().ShouldBe("Cluster not found");
    }

    [Fact]
    public async Task The_metrics_of_an_unreachable_cluster_are_a_503()
    {
        var (viewer, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await Fixture.RegisterUnreachableClusterAsync("gone", user.Id, scope: "user");

        await (await viewer.GetAsync("/v1/api/clusters/gone/metrics")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
    }

    private static HttpRequestMessage Request(string method, string url, string? json = "{}") =>
        new(new HttpMethod(method), url) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") };
}
