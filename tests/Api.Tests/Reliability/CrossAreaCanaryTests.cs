using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Capstan.Api.Tests.Contract;
using Capstan.Features.Fleet.Deployments;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Reliability;

/// <summary>
/// The cross-area canary (identity, single sign-on and access wraps have their own): distinctive secret values go
/// in through the areas (cluster tokens and a kubeconfig's credentials, webhook and Slack secrets of alert channels, an
/// access agent's secret, a vault value, a registry password and a fleet deployment's secrets) and through refused
/// requests (bearer tokens, API keys and agent secrets that are wrong, a password in an invalid body, credentials in
/// query strings). Then every parameterless GET route and every created object is read as an administrator. No value
/// may appear, in clear or base64, in any answer but its one reveal, in a log line, an audit row or any stored row.
/// </summary>
public sealed class CrossAreaCanaryTests(ReliabilityFixture fixture, ITestOutputHelper output) : ReliabilityTest(fixture)
{
    private const string ClusterToken = "CANARY-cluster-token-5d1e";
    private const string KubeconfigToken = "CANARY-kubeconfig-token-93ab";
    private const string KubeconfigPassword = "CANARY-kubeconfig-password-0c4f";
    private const string WebhookSecret = "CANARY-webhook-secret-77e2";
    private const string WebhookHeader = "CANARY-webhook-header-1f08";
    private const string SlackToken = "CANARYslacktoken4b6c";
    private const string WrongBearer = "CANARY-wrong-bearer-a3d9";
    private const string WrongApiKey = "cap_CANARY-wrong-api-key-6e21";
    private const string WrongAgentSecret = "CANARY-wrong-agent-secret-c8f0";
    private const string QueryToken = "CANARY-query-token-2b7a";
    private const string BodyPassword = "CANARY-body-Passw0rd-9e3d";
    private const string LoginPassword = "CANARY-login-Passw0rd-4a1c";
    private const string VaultValue = "CANARY-vault-value-e5b2";
    private const string RegistryPassword = "CANARY-registry-password-d70f";
    private const string DeploymentSecret = "CANARY-deployment-secret-3f9a";

    [Fact]
    public async Task No_secret_value_of_any_area_leaks()
    {
        var recorder = new ResponseRecorder();
        var admin = Fixture.Factory.CreateDefaultClient(recorder);
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await Fixture.CreateApiKeyAsync(await Fixture.CreateUserAsync(BaseRole.Admin)));
        var anonymous = Fixture.Factory.CreateDefaultClient(recorder);
        var reveals = new Dictionary<string, HttpResponseMessage>();

        // Clusters: a token cluster (seed 002) and a kubeconfig cluster (seed 001).
        var tokenCluster = await admin.PostAsJsonAsync("/v1/api/clusters", new { name = "canary-token", server = "http://127.0.0.1:9", authType = "token", credentials = new { token = ClusterToken } });
        tokenCluster.IsSuccessStatusCode.ShouldBeTrue(await tokenCluster.Content.ReadAsStringAsync());
        var kubeconfig = $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: canary
              cluster:
                server: http://127.0.0.1:9
            users:
            - name: canary-user
              user:
                token: {KubeconfigToken}
            - name: canary-basic
              user:
                username: admin
                password: {KubeconfigPassword}
            contexts:
            - name: canary
              context:
                cluster: canary
                user: canary-user
            current-context: canary
            """;
        var kubeconfigCluster = await admin.PostAsJsonAsync("/api/v1/clusters", new { name = "canary-kubeconfig", kubeconfig });
        kubeconfigCluster.IsSuccessStatusCode.ShouldBeTrue(await kubeconfigCluster.Content.ReadAsStringAsync());
        var kubeconfigClusterId = (await kubeconfigCluster.Content.ReadFromJsonAsync<System.Text.Json.JsonElement>()).GetProperty("id").ToString();

        // Fleet alert channels: a signed webhook with a credential header, and Slack (its URL's path is the secret).
        var webhook = await (await admin.PostAsJsonAsync("/api/v1/alerts/channels", new
        {
            name = "canary-webhook",
            type = "WEBHOOK",
            config = new { url = "http://127.0.0.1:9/hook", secret = WebhookSecret, headers = new Dictionary<string, string> { ["Authorization"] = "Bearer " + WebhookHeader } },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var slack = await (await admin.PostAsJsonAsync("/api/v1/alerts/channels", new
        {
            name = "canary-slack",
            type = "SLACK",
            config = new { webhook_url = $"https://hooks.slack.com/services/T0000/B0000/{SlackToken}" },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);

        // Access: an agent's secret is shown once, at mint, then used.
        var mint = await admin.PostAsJsonAsync("/api/v1/agents", new { name = "canary-agent" });
        var agent = await mint.ShouldBeJsonAsync(HttpStatusCode.Created);
        var agentId = agent.GetProperty("id").ToString();
        var agentSecret = agent.GetProperty("agent_secret").GetString()!;
        reveals[agentSecret] = mint;
        using (var heartbeat = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/agents/{agentId}/heartbeat"))
        {
            heartbeat.Headers.Add(AgentAuthenticated.HeaderName, agentSecret);
            (await anonymous.SendAsync(heartbeat)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        }

        // Fleet vault: the value is revealed once, by its one reveal route.
        var vault = await (await admin.PostAsJsonAsync("/api/v1/secrets", new { name = "canary-vault", value = VaultValue })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var vaultReveal = await admin.GetAsync($"/api/v1/secrets/{vault.GetProperty("id")}/value");
        (await vaultReveal.Content.ReadAsStringAsync()).ShouldContain(VaultValue);
        reveals[VaultValue] = vaultReveal;

        // Delivery: a registry password (a run's secret values have their own check in DeploymentFlowTests).
        await (await admin.PostAsJsonAsync("/v1/api/admin/registries", new
        {
            name = "canary-registry",
            registryType = "custom",
            registryUrl = "https://registry.example.test",
            credentials = new { username = "canary", password = RegistryPassword },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);

        // Fleet deployments: secrets are sealed until the runner hands them to the provisioner, then dropped.
        var deployment = await (await admin.PostAsJsonAsync("/api/v1/deployments", new
        {
            name = "canary-env",
            provider = "fly",
            region = "sea",
            yaml_config = "name: canary-env\nsecrets:\n  - name: API_TOKEN\n    source: env\n",
            secrets = new Dictionary<string, string> { ["API_TOKEN"] = DeploymentSecret },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        (await Fixture.Services.GetRequiredService<DeploymentRunner>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        // Refused requests carrying secrets.
        using (var wrongBearer = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users"))
        {
            wrongBearer.Headers.Authorization = new AuthenticationHeaderValue("Bearer", WrongBearer);
            (await anonymous.SendAsync(wrongBearer)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        using (var wrongKey = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users"))
        {
            wrongKey.Headers.Add("X-Api-Key", WrongApiKey);
            (await anonymous.SendAsync(wrongKey)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        using (var wrongAgent = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/agents/{agentId}/heartbeat"))
        {
            wrongAgent.Headers.Add(AgentAuthenticated.HeaderName, WrongAgentSecret);
            (await anonymous.SendAsync(wrongAgent)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        (await anonymous.GetAsync($"/api/v1/users?token={QueryToken}&api_key={QueryToken}")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await admin.GetAsync($"/api/v1/permissions?access_token={QueryToken}")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await admin.PostAsJsonAsync("/api/v1/users", new { username = "Not A Valid Name!", password = BodyPassword, role = "no-such-role" })).StatusCode.ShouldBe(HttpStatusCode.BadRequest);
        (await anonymous.PostAsJsonAsync("/api/v1/auth/login", new { username = "nobody-here", password = LoginPassword })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await anonymous.PostAsJsonAsync("/v1/api/auth/login", new { email = "nobody@example.test", password = LoginPassword })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);

        // Everything an administrator can read afterwards.
        var reads = 0;
        foreach (var route in RouteSweep.Routes(Fixture.Services).Where(route => route.Method == "GET" && !route.Template.Contains('{', StringComparison.Ordinal)))
        {
            if (await ReadAsync(admin, route.Template))
            {
                reads++;
            }
        }

        foreach (var path in new[]
                 {
                     "/v1/api/clusters/canary-token", "/v1/api/clusters/canary-token/status", "/v1/api/clusters/canary-token/logs", "/v1/api/clusters/canary-kubeconfig",
                     $"/api/v1/alerts/channels/{webhook.GetProperty("id")}", $"/api/v1/alerts/channels/{slack.GetProperty("id")}", $"/api/v1/clusters/{kubeconfigClusterId}",
                     $"/api/v1/secrets/{vault.GetProperty("id")}",
                     $"/api/v1/deployments/{deployment.GetProperty("deployment").GetProperty("id")}",
                 })
        {
            reads += await ReadAsync(admin, path) ? 1 : 0;
        }

        var canaries = new Dictionary<string, string>
        {
            ["cluster token"] = ClusterToken,
            ["kubeconfig token"] = KubeconfigToken,
            ["kubeconfig password"] = KubeconfigPassword,
            ["webhook secret"] = WebhookSecret,
            ["webhook credential header"] = WebhookHeader,
            ["Slack webhook token"] = SlackToken,
            ["agent secret"] = agentSecret,
            ["wrong bearer token"] = WrongBearer,
            ["wrong API key"] = WrongApiKey,
            ["wrong agent secret"] = WrongAgentSecret,
            ["query-string token"] = QueryToken,
            ["password in an invalid body"] = BodyPassword,
            ["password of a failed sign-in"] = LoginPassword,
            ["vault value"] = VaultValue,
            ["registry password"] = RegistryPassword,
            ["deployment secret"] = DeploymentSecret,
        };
        var schemas = await Fixture.QueryAsync<string>(
            "SELECT nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg\\_%' AND nspname NOT IN ('information_schema', 'capstan_test')");
        var stored = await Fixture.StoredRowsAsTextAsync([.. schemas]);
        var logs = Fixture.Logs.All;
        var leaks = new List<string>();
        foreach (var (name, value) in canaries)
        {
            foreach (var form in new[] { value, Convert.ToBase64String(Encoding.UTF8.GetBytes(value)), Convert.ToHexString(Encoding.UTF8.GetBytes(value)).ToLowerInvariant() })
            {
                if (stored.Contains(form, StringComparison.Ordinal))
                {
                    leaks.Add($"{name} in a stored row (audit included)");
                }

                if (logs.Contains(form, StringComparison.Ordinal))
                {
                    leaks.Add($"{name} in a log line");
                }

                var reveal = reveals.GetValueOrDefault(value);
                leaks.AddRange(recorder.Responses
                    .Where(pair => pair.Response != reveal && pair.Text.Contains(form, StringComparison.Ordinal))
                    .Select(pair => $"{name} in the answer to {pair.Response.RequestMessage!.Method} {pair.Response.RequestMessage.RequestUri!.PathAndQuery}"));
            }
        }

        output.WriteLine($"canaries: {canaries.Count} values driven, {recorder.Responses.Count} answers recorded ({reads} reads as an administrator), " +
            $"{schemas.Count} schemas and {logs.Split('\n').Length} log lines searched; leaks: {leaks.Count}");
        leaks.Distinct().ShouldBeEmpty();
    }

    private static async Task<bool> ReadAsync(HttpClient client, string path)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await client.SendAsync(request, cancel.Token);
            return response.IsSuccessStatusCode;
        }
        catch (OperationCanceledException)
        {
            // A stream that stays open: what it sent so far was recorded.
            return false;
        }
    }
}
