using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Features.Access.GitOps;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Access;

/// <summary>The ArgoCD integration against a local ArgoCD stand-in: endpoints with an encrypted token, live app
/// discovery, mappings, and the observation of an executed request until its application is applied.</summary>
public sealed class GitOpsIntegrationTests(AccessFixture fixture) : AccessTest(fixture)
{
    private FakeArgoCd _argo = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        _argo = await FakeArgoCd.StartAsync();
    }

    public override async Task DisposeAsync()
    {
        await _argo.DisposeAsync();
        await base.DisposeAsync();
    }

    [Fact]
    public async Task An_endpoint_keeps_its_token_encrypted_and_lists_the_applications_live()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (viewer, _) = await AsAsync(BaseRole.Viewer);
        _argo.SetApp("payments", "shop", "Healthy", "Synced");
        _argo.SetApp("search", "infra", "Progressing", "OutOfSync");

        var created = await (await admin.PostAsJsonAsync("/api/v1/argocd-endpoints", new
        {
            name = "argo-eu",
            base_url = _argo.BaseUrl,
            token_b64 = Convert.ToBase64String(Encoding.UTF8.GetBytes(_argo.Token)),
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        created.PropertyNames().ShouldBe(
            ["id", "name", "environment_id", "base_url", "tls_server_name", "tls_ca_configured", "enabled", "last_health_at", "health_error", "kms_key_id", "created_at", "updated_at"]);
        var id = created.GetProperty("id").GetGuid();
        (await admin.GetStringAsync("/api/v1/argocd-endpoints")).ShouldNotContain(_argo.Token);
        var stored = await Fixture.ScalarAsync<byte[]>("SELECT token_envelope FROM access.argocd_endpoints");
        Encoding.UTF8.GetString(stored!).ShouldNotContain(_argo.Token);

        var apps = await (await viewer.GetAsync($"/api/v1/argocd-endpoints/{id}/discovered-apps")).ShouldBeJsonAsync();
        apps.GetArrayLength().ShouldBe(2);
        apps[0].PropertyNames().ShouldBe(["name", "namespace", "project", "destination_server", "destination_cluster", "destination_namespace", "health_status", "sync_status"]);
        apps[0].GetProperty("health_status").GetString().ShouldBe("Healthy");
        (await (await viewer.GetAsync($"/api/v1/argocd-endpoints/{id}/discovered-apps?project=infra")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/argocd-endpoints")).ShouldBeJsonAsync())[0].GetProperty("last_health_at").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.String);
        _argo.Requests.ShouldAllBe(request => request.StartsWith("GET ", StringComparison.Ordinal));

        (await admin.PutAsJsonAsync($"/api/v1/argocd-endpoints/{id}/enabled", new { enabled = false })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await (await viewer.GetAsync($"/api/v1/argocd-endpoints/{id}/discovered-apps")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString().ShouldBe("argocd endpoint is disabled");
        (await admin.PutAsJsonAsync($"/api/v1/argocd-endpoints/{id}/enabled", new { enabled = true })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        _argo.FailWith = 500;
        (await (await viewer.GetAsync($"/api/v1/argocd-endpoints/{id}/discovered-apps")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString()!.ShouldStartWith("ArgoCD answered 500");
        (await Fixture.ScalarAsync<string>("SELECT last_health_error FROM access.argocd_endpoints")).ShouldStartWith("ArgoCD answered 500");

        (await admin.DeleteAsync($"/api/v1/argocd-endpoints/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await (await viewer.GetAsync("/api/v1/argocd-endpoints")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(0);
        await (await viewer.GetAsync($"/api/v1/argocd-endpoints/{id}/discovered-apps")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync($"/api/v1/argocd-endpoints/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PutAsJsonAsync($"/api/v1/argocd-endpoints/{id}/enabled", new { enabled = true })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_wrong_token_is_a_503_saying_so()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var id = (await (await admin.PostAsJsonAsync("/api/v1/argocd-endpoints", new { name = "argo", base_url = _argo.BaseUrl, token = "wrong" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        (await (await admin.GetAsync($"/api/v1/argocd-endpoints/{id}/discovered-apps")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString().ShouldBe("ArgoCD answered 401 Unauthorized");
    }

    [Theory]
    [InlineData("""{"base_url": "http://argo", "token_b64": "dA=="}""", "name")]
    [InlineData("""{"name": "a", "token_b64": "dA=="}""", "base_url")]
    [InlineData("""{"name": "a", "base_url": "ftp://argo", "token_b64": "dA=="}""", "base_url")]
    [InlineData("""{"name": "a", "base_url": "http://argo"}""", "token_b64")]
    [InlineData("""{"name": "a", "base_url": "http://argo", "token_b64": "%%"}""", "token_b64")]
    [InlineData("""{"name": "a", "base_url": "http://argo", "token_b64": "dA==", "tls_ca_pem": "not a pem"}""", "tls_ca_pem")]
    [InlineData("""{"name": "a", "base_url": "http://argo", "token_b64": "dA==", "environment_id": "00000000-0000-0000-0000-000000000009"}""", "environment_id")]
    public async Task Bad_endpoints_are_a_400_naming_the_field(string json, string field)
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/argocd-endpoints", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(json);
    }

    [Fact]
    public async Task Integration_changes_need_integration_edit()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var id = (await (await admin.PostAsJsonAsync("/api/v1/argocd-endpoints", new { name = "argo", base_url = _argo.BaseUrl, token = _argo.Token })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("id").GetGuid();
        await (await admin.PostAsJsonAsync("/api/v1/argocd-endpoints", new { name = "argo", base_url = _argo.BaseUrl, token = _argo.Token })).ShouldBeErrorAsync(HttpStatusCode.Conflict);

        await (await operatorClient.PostAsJsonAsync("/api/v1/argocd-endpoints", new { name = "x", base_url = _argo.BaseUrl, token = "t" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PutAsJsonAsync($"/api/v1/argocd-endpoints/{id}/enabled", new { enabled = false })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.DeleteAsync($"/api/v1/argocd-endpoints/{id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PostAsJsonAsync("/api/v1/gitops-app-mappings", new { })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.DeleteAsync($"/api/v1/gitops-app-mappings/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await admin.PutAsJsonAsync($"/api/v1/argocd-endpoints/{id}/enabled", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        foreach (var path in new[] { "/api/v1/argocd-endpoints", $"/api/v1/argocd-endpoints/{id}/discovered-apps", "/api/v1/gitops-app-mappings", $"/api/v1/requests/{Guid.NewGuid()}/gitops" })
        {
            await (await Client.GetAsync(path)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        }
    }

    [Fact]
    public async Task An_executed_request_is_observed_in_argocd_until_its_application_is_applied()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (developer, requester) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        using var agent = await MintAgentAsync();
        var connection = Guid.NewGuid();
        _argo.SetApp("payments", "shop", "Progressing", "OutOfSync");
        var endpointId = (await (await admin.PostAsJsonAsync("/api/v1/argocd-endpoints", new { name = "argo", base_url = _argo.BaseUrl, token = _argo.Token }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var mapping = await (await admin.PostAsJsonAsync("/api/v1/gitops-app-mappings", new
        {
            argocd_endpoint_id = endpointId,
            application_name = "payments",
            application_namespace = "argocd",
            provider_connection_id = connection,
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        mapping.PropertyNames().ShouldBe(
            ["id", "secret_mapping_id", "provider_connection_id", "argocd_endpoint_id", "application_name", "application_namespace", "project_name", "cluster_name", "enabled", "created_at", "updated_at"]);
        (await (await admin.GetAsync("/api/v1/gitops-app-mappings")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1);
        await (await admin.PostAsJsonAsync("/api/v1/gitops-app-mappings", new { argocd_endpoint_id = endpointId, application_name = "x" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await admin.PostAsJsonAsync("/api/v1/gitops-app-mappings", new { argocd_endpoint_id = endpointId, application_name = "x", provider_connection_id = connection, secret_mapping_id = connection }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await admin.PostAsJsonAsync("/api/v1/gitops-app-mappings", new { argocd_endpoint_id = Guid.NewGuid(), application_name = "x", provider_connection_id = connection }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var request = await (await developer.PostAsJsonAsync("/api/v1/requests", new
        {
            target_provider_type = "vault",
            target_provider_config = new { provider_connection_id = connection },
            target_secret_ref = "shop/db",
            key_values = new Dictionary<string, string> { ["K"] = "v" },
            justification = "rotate",
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var requestId = request.GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, requestId);
        var job = (await agent.ClaimAsync())!.Value;
        (await agent.CompleteAsync(job.GetProperty("id").GetGuid())).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var queued = await (await developer.GetAsync($"/api/v1/requests/{requestId}/gitops?user_id={requester.Id}")).ShouldBeJsonAsync();
        queued.GetArrayLength().ShouldBe(1);
        queued[0].GetProperty("polling_state").GetString().ShouldBe("queued");
        var poller = Fixture.Services.GetRequiredService<GitOpsObservationPoller>();
        await poller.TryRunAsync(CancellationToken.None);
        (await (await developer.GetAsync($"/api/v1/requests/{requestId}/gitops")).ShouldBeJsonAsync())[0].GetProperty("polling_state").GetString().ShouldBe("active");

        _argo.SetApp("payments", "shop", "Healthy", "Synced", "Succeeded");
        await poller.TryRunAsync(CancellationToken.None);

        var applied = (await (await developer.GetAsync($"/api/v1/requests/{requestId}/gitops")).ShouldBeJsonAsync())[0];
        applied.PropertyNames().ShouldBe(
            ["id", "request_id", "argocd_endpoint_id", "application_name", "application_namespace", "polling_state", "observed_state", "last_polled_at", "polls_count", "last_error", "timeout_at", "terminal_at", "created_at"]);
        applied.GetProperty("polling_state").GetString().ShouldBe("applied");
        applied.GetProperty("polls_count").GetInt64().ShouldBe(2);
        applied.GetProperty("observed_state").GetProperty("sync_revision").GetString().ShouldBe("4f2a9c1");
        applied.GetProperty("observed_state").GetProperty("resource_count").GetInt32().ShouldBe(1);
        (await AuditCountAsync("request.gitops_observation_started", requestId)).ShouldBe(1);
        (await AuditCountAsync("request.gitops_observation_applied", requestId)).ShouldBe(1);
        _argo.Requests.ShouldContain("GET /api/v1/applications/payments?appNamespace=argocd");

        var (stranger, _) = await AsAsync(BaseRole.Developer);
        await (await stranger.GetAsync($"/api/v1/requests/{requestId}/gitops")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await developer.GetAsync($"/api/v1/requests/{requestId}/gitops?user_id={Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        (await admin.DeleteAsync($"/api/v1/gitops-app-mappings/{mapping.GetProperty("id").GetGuid()}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await admin.DeleteAsync($"/api/v1/gitops-app-mappings/{mapping.GetProperty("id").GetGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_observation_left_open_past_its_timeout_ends_applied_unverified()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        using var agent = await MintAgentAsync();
        var connection = Guid.NewGuid();
        var endpointId = (await (await admin.PostAsJsonAsync("/api/v1/argocd-endpoints", new { name = "argo", base_url = _argo.BaseUrl, token = _argo.Token }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await admin.PostAsJsonAsync("/api/v1/gitops-app-mappings", new { argocd_endpoint_id = endpointId, application_name = "ghost", provider_connection_id = connection });
        var requestId = (await (await developer.PostAsJsonAsync("/api/v1/requests/read", new
        {
            target_provider_type = "vault",
            target_provider_config = new { provider_connection_id = connection.ToString().ToUpperInvariant() },
            target_secret_ref = "x",
            justification = "j",
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, requestId);
        await agent.CompleteAsync((await agent.ClaimAsync())!.Value.GetProperty("id").GetGuid());
        await Fixture.ExecuteAsync("UPDATE access.gitops_observations SET timeout_at = now() - interval '1 second'");

        await Fixture.Services.GetRequiredService<GitOpsObservationPoller>().TryRunAsync(CancellationToken.None);

        (await Fixture.ScalarAsync<string>("SELECT polling_state FROM access.gitops_observations")).ShouldBe("applied_unverified");
    }
}
