using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using Capstan.Features.Access;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Access;

/// <summary>A host with the GitOps integration off and the per-agent and per-user limits at their production values.</summary>
public sealed class AccessDefaultsFixture : ApiFixture
{
    protected override string Purpose => "access_defaults";
}

/// <summary>Behaviour that depends on the host's settings, and the access metrics on <c>/metrics</c>.</summary>
public sealed class AccessHostTests(AccessFixture fixture, AccessDefaultsFixture defaults) : AccessTest(fixture), IClassFixture<AccessDefaultsFixture>
{
    [Fact]
    public async Task With_the_gitops_integration_off_its_routes_are_not_there()
    {
        await defaults.ResetAsync();
        var (admin, _) = await defaults.ClientAsAsync(BaseRole.Admin);
        var id = Guid.NewGuid();

        foreach (var (method, path) in new[]
                 {
                     ("POST", "/api/v1/argocd-endpoints"), ("GET", "/api/v1/argocd-endpoints"), ("GET", $"/api/v1/argocd-endpoints/{id}/discovered-apps"),
                     ("PUT", $"/api/v1/argocd-endpoints/{id}/enabled"), ("DELETE", $"/api/v1/argocd-endpoints/{id}"), ("POST", "/api/v1/gitops-app-mappings"),
                     ("GET", "/api/v1/gitops-app-mappings"), ("DELETE", $"/api/v1/gitops-app-mappings/{id}"), ("GET", $"/api/v1/requests/{id}/gitops"),
                 })
        {
            await (await admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { }) })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
            await (await defaults.CreateClient().SendAsync(new HttpRequestMessage(new HttpMethod(method), path))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        }
    }

    [Fact]
    public async Task Heartbeats_and_value_retrievals_are_rate_limited()
    {
        await defaults.ResetAsync();
        var (admin, _) = await defaults.ClientAsAsync(BaseRole.Admin);
        var minted = await (await admin.PostAsJsonAsync("/api/v1/agents", new { name = "chatty" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var agent = defaults.CreateClient();
        agent.DefaultRequestHeaders.Add("X-Agent-Secret", minted.GetProperty("agent_secret").GetString());
        var path = $"/api/v1/agents/{minted.GetProperty("id").GetGuid()}/heartbeat";
        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 14; i++)
        {
            statuses.Add((await agent.PostAsync(path, null)).StatusCode);
        }

        statuses.ShouldContain(HttpStatusCode.TooManyRequests);
        var limited = await agent.PostAsync(path, null);
        (await limited.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests)).GetProperty("statusCode").GetInt32().ShouldBe(429);
        limited.Headers.RetryAfter.ShouldNotBeNull();

        var (developer, _) = await defaults.ClientAsAsync(BaseRole.Developer);
        var retrievals = new List<HttpStatusCode>();
        for (var i = 0; i < 22; i++)
        {
            retrievals.Add((await developer.GetAsync($"/api/v1/requests/{Guid.NewGuid()}/wraps/{Guid.NewGuid()}")).StatusCode);
        }

        retrievals.ShouldContain(HttpStatusCode.TooManyRequests);
        retrievals.Take(20).ShouldAllBe(status => status == HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Metrics_show_requests_by_status_and_the_job_queue()
    {
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var (admin, _) = await AsAsync(BaseRole.Admin);
        using var agent = await MintAgentAsync();
        await SubmitReadAsync(developer);
        await ApproveAsync(operatorClient, (await SubmitReadAsync(developer)).GetProperty("id").GetGuid());
        await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "discover" });
        await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "sync" });
        await agent.ClaimAsync();
        await Fixture.ExecuteAsync("UPDATE access.jobs SET claim_expires_at = now() - interval '1 minute' WHERE status = 'claimed'");

        await Fixture.Services.GetRequiredService<AccessMetrics>().TryRunAsync(CancellationToken.None);
        var metrics = await Client.GetStringAsync("/metrics");

        Value(metrics, "capstan_access_requests", "status=\"pending\"").ShouldBe(1);
        Value(metrics, "capstan_access_requests", "status=\"approved\"").ShouldBe(1);
        Value(metrics, "capstan_access_requests", "status=\"expired\"").ShouldBe(0);
        Value(metrics, "capstan_access_jobs_queue_depth", "state=\"queued\"").ShouldBe(2);
        Value(metrics, "capstan_access_jobs_queue_depth", "state=\"lease_expired\"").ShouldBe(1);
        Value(metrics, "capstan_access_request_transitions_total", "from=\"pending\",to=\"approved\"").ShouldBeGreaterThanOrEqualTo(1);
        Value(metrics, "capstan_access_job_claims_total", "job_type=\"read\"").ShouldBeGreaterThanOrEqualTo(1);
        Value(metrics, "capstan_access_request_submissions_total", "type=\"read\"").ShouldBeGreaterThanOrEqualTo(2);
    }

    private static double Value(string metrics, string name, string labels)
    {
        var match = Regex.Match(metrics, $"^{Regex.Escape(name)}\\{{{Regex.Escape(labels)}\\}} (\\S+)$", RegexOptions.Multiline);
        match.Success.ShouldBeTrue($"{name}{{{labels}}} in\n{metrics}");
        return double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
    }
}
