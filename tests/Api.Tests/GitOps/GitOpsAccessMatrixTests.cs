using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>Every gitops route (and the Flux RBAC routes): 401 without credentials, 403 for the base role just below
/// its permission, and 403 from Flux RBAC for a caller of the right role without a policy.</summary>
public sealed class GitOpsAccessMatrixTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    private const string Object = "/api/v1/flux/kustomizations/flux-system/apps";

    public static TheoryData<string, string, BaseRole?, BaseRole?> Routes => new()
    {
        { "GET", "/api/v1/flux/kustomizations", null, BaseRole.Viewer },
        { "POST", "/api/v1/flux/kustomizations", BaseRole.Developer, BaseRole.Operator },
        { "GET", Object, null, BaseRole.Viewer },
        { "PUT", Object, BaseRole.Developer, BaseRole.Operator },
        { "DELETE", Object, BaseRole.Developer, BaseRole.Operator },
        { "POST", Object + "/reconcile", BaseRole.Developer, BaseRole.Operator },
        { "POST", Object + "/suspend", BaseRole.Developer, BaseRole.Operator },
        { "POST", Object + "/resume", BaseRole.Developer, BaseRole.Operator },
        { "POST", Object + "/rollback", BaseRole.Developer, BaseRole.Operator },
        { "POST", "/api/v1/flux/batch/reconcile", BaseRole.Developer, null },
        { "POST", "/api/v1/flux/batch/suspend", BaseRole.Developer, null },
        { "POST", "/api/v1/flux/batch/resume", BaseRole.Developer, null },
        { "POST", "/api/v1/flux/batch/delete", BaseRole.Developer, null },
        { "GET", Object + "/events", null, BaseRole.Viewer },
        { "GET", Object + "/history", null, BaseRole.Viewer },
        { "GET", Object + "/logs", null, BaseRole.Viewer },
        { "GET", Object + "/diff", null, BaseRole.Viewer },
        { "GET", "/api/v1/flux/overview", null, BaseRole.Viewer },
        { "GET", "/api/v1/flux/events", null, BaseRole.Viewer },
        { "GET", "/api/v1/flux/version", null, BaseRole.Viewer },
        { "GET", "/api/v1/events", null, BaseRole.Viewer },
        { "GET", "/api/v1/rbac/policies", BaseRole.Operator, null },
        { "POST", "/api/v1/rbac/policies", BaseRole.Operator, null },
        { "POST", "/api/v1/rbac/bindings", BaseRole.Operator, null },
    };

    [Theory]
    [MemberData(nameof(Routes))]
    public async Task Anonymous_401_role_below_403_and_no_policy_403(string method, string url, BaseRole? roleBelow, BaseRole? withoutPolicy)
    {
        await RegisterClusterAsync();

        await (await Client.SendAsync(Request(method, url))).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        if (roleBelow is { } below)
        {
            var (client, _) = await Fixture.ClientAsAsync(below);
            await (await client.SendAsync(Request(method, url))).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        }

        if (withoutPolicy is { } role)
        {
            var (client, _) = await Fixture.ClientAsAsync(role);
            var body = await (await client.SendAsync(Request(method, url))).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
            body.GetProperty("message").GetString()!.ShouldStartWith("Permission denied");
        }
    }

    [Fact]
    public async Task The_public_health_route_answers_without_credentials()
    {
        (await (await Client.GetAsync("/api/v1/flux/health")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("healthy");
    }

    private static HttpRequestMessage Request(string method, string url)
    {
        var json = method == "GET" || method == "DELETE"
            ? null
            : url.EndsWith("/rollback", StringComparison.Ordinal) ? """{"revision":"x"}"""
            : url == "/api/v1/flux/kustomizations" ? """{"apiVersion":"kustomize.toolkit.fluxcd.io/v1","kind":"Kustomization","metadata":{"name":"x","namespace":"apps"}}"""
            : url == Object ? """{"yaml":"apiVersion: kustomize.toolkit.fluxcd.io/v1\nkind: Kustomization\nmetadata: {name: apps, namespace: flux-system}"}"""
            : """{"resources":[]}""";
        var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = json is null ? null : new StringContent(json, Encoding.UTF8, "application/json") };
        if (url == "/api/v1/events")
        {
            request.Headers.Accept.ParseAdd("text/event-stream");
        }

        return request;
    }
}
