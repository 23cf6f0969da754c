using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>
/// No secret value leaks: distinctive values go through both flows (and an ArgoCD endpoint's token through the gitops
/// integration), and they (or their base64) never appear in any response except the two retrieve endpoints, in any
/// table, audit row or log line. Every response is recorded on its
/// way back to the clients.
/// </summary>
public sealed partial class CanaryTests(AccessFixture fixture) : AccessTest(fixture)
{
    private const string PatchCanary = "CANARY-patch-7f3c9e1d-do-not-leak";
    private const string ReadCanary = "CANARY-read-2b8a4f60-do-not-leak";
    private const string ArgoCdToken = "CANARY-argocd-token-51e7-do-not-leak";

    private readonly List<(string Method, string Path, string Body)> _responses = [];

    [Fact]
    public async Task Secret_values_appear_only_in_the_two_retrieve_responses()
    {
        var developerUser = await Fixture.CreateUserAsync(BaseRole.Developer);
        var developer = await RecordingClientAsync(developerUser);
        var approver = await RecordingClientAsync(await Fixture.CreateUserAsync(BaseRole.Operator));
        var admin = await RecordingClientAsync(await Fixture.CreateUserAsync(BaseRole.Admin));
        using var bare = await MintAgentAsync("canary-agent");
        var agent = new TestAgent(Recording(), bare.Id, bare.Secret, null);
        await agent.RegisterKeyAsync();

        // Patch flow: the value goes in with the request and out to the agent, sealed.
        var patchId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["PASSWORD"] = PatchCanary })).GetProperty("id").GetGuid();
        await ApproveAsync(approver, patchId);
        var patchJob = (await agent.ClaimAsync())!.Value;
        var wrapId = patchJob.GetProperty("payload").GetProperty("wraps")[0].GetProperty("wrap_id").GetGuid();
        Encoding.UTF8.GetString(await agent.FetchValueAsync(wrapId)).ShouldBe(PatchCanary);
        await agent.CompleteAsync(patchJob.GetProperty("id").GetGuid());

        // Read flow: the value comes in from the agent and goes out once to the requester.
        var readId = (await SubmitReadAsync(developer, ["TOKEN"])).GetProperty("id").GetGuid();
        await ApproveAsync(approver, readId);
        var readJob = (await agent.ClaimAsync())!.Value;
        await (await agent.PostValueAsync(readId, "TOKEN", Encoding.UTF8.GetBytes(ReadCanary))).ShouldBeJsonAsync(HttpStatusCode.Created);
        await agent.CompleteAsync(readJob.GetProperty("id").GetGuid());
        var readWrap = (await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps")).ShouldBeJsonAsync())[0].GetProperty("id").GetGuid();
        var retrieved = await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps/{readWrap}")).ShouldBeJsonAsync();
        Encoding.UTF8.GetString(Convert.FromBase64String(retrieved.GetProperty("value").GetString()!)).ShouldBe(ReadCanary);

        // An ArgoCD endpoint's token goes in once and is only ever sent to ArgoCD.
        await using var argo = await FakeArgoCd.StartAsync(ArgoCdToken);
        argo.SetApp("payments", "shop", "Healthy", "Synced");
        var endpoint = await (await admin.PostAsJsonAsync("/api/v1/argocd-endpoints", new { name = "canary-argo", base_url = argo.BaseUrl, token = ArgoCdToken }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        (await (await developer.GetAsync($"/api/v1/argocd-endpoints/{endpoint.GetProperty("id")}/discovered-apps")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1);

        // Everything a client can read afterwards.
        foreach (var path in new[]
                 {
                     "/api/v1/requests", $"/api/v1/requests/{patchId}", $"/api/v1/requests/{readId}", $"/api/v1/requests/{patchId}/wraps",
                     $"/api/v1/requests/{readId}/wraps", $"/api/v1/requests/{readId}/gitops", "/api/v1/agents", "/api/v1/secrets", "/api/v1/workflows", "/api/v1/policies",
                     "/api/v1/argocd-endpoints", "/api/v1/gitops-app-mappings",
                 })
        {
            (await developer.GetAsync(path)).EnsureSuccessStatusCode();
            await admin.GetAsync(path); // the requester's wrap lists are a 404 for anyone else
        }

        (await admin.GetAsync("/metrics")).EnsureSuccessStatusCode();

        var retrieveRoute = RetrieveRoute();
        var outside = _responses.Where(response => !(response.Method == "GET" && retrieveRoute.IsMatch(response.Path))).ToList();
        outside.Count.ShouldBeGreaterThan(20);
        foreach (var canary in Forms(PatchCanary).Concat(Forms(ReadCanary)).Concat(Forms(ArgoCdToken)))
        {
            outside.Where(response => response.Body.Contains(canary, StringComparison.Ordinal)).Select(response => $"{response.Method} {response.Path}").ShouldBeEmpty(canary);
            Fixture.Logs.All.ShouldNotContain(canary);
        }

        // The agent's fetch carried the patch value sealed, never in clear; the requester's retrieve carried the read value.
        _responses.Where(response => response.Path.StartsWith($"/api/v1/agents/{agent.Id}/wraps/", StringComparison.Ordinal)).ShouldAllBe(response => !response.Body.Contains(Base64(PatchCanary)));
        _responses.ShouldContain(response => response.Body.Contains(Base64(ReadCanary)));

        // Nothing at rest either: every row of every table, as text.
        var tables = await Fixture.QueryAsync<string>(
            "SELECT format('%I.%I', schemaname, tablename) FROM pg_tables WHERE schemaname NOT IN ('pg_catalog', 'information_schema', 'capstan_test')");
        foreach (var table in tables)
        {
            var text = string.Join('\n', await Fixture.QueryAsync<string>($"SELECT t::text FROM {table} t"));
            foreach (var canary in Forms(PatchCanary).Concat(Forms(ReadCanary)).Concat(Forms(ArgoCdToken)))
            {
                text.ShouldNotContain(canary, Case.Sensitive, $"{table} holds a secret value");
                text.ShouldNotContain(Convert.ToHexString(Encoding.UTF8.GetBytes(canary)).ToLowerInvariant(), Case.Sensitive, $"{table} holds a secret value as bytes");
            }
        }

        agent.Dispose();
    }

    private static string Base64(string value) => Convert.ToBase64String(Encoding.UTF8.GetBytes(value));

    private static IEnumerable<string> Forms(string value) => [value, Base64(value)];

    private async Task<HttpClient> RecordingClientAsync(TestUser user)
    {
        var client = Recording();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Fixture.CreateApiKeyAsync(user));
        return client;
    }

    private HttpClient Recording() => Fixture.Factory.CreateDefaultClient(new Recorder(_responses));

    [GeneratedRegex("^/api/v1/requests/[^/]+/wraps/[^/?]+")]
    private static partial Regex RetrieveRoute();

    private sealed class Recorder(List<(string Method, string Path, string Body)> sink) : DelegatingHandler
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            var body = await response.Content.ReadAsStringAsync(cancellationToken);
            lock (sink)
            {
                sink.Add((request.Method.Method, request.RequestUri!.AbsolutePath, body));
            }

            return response;
        }
    }
}
