using System.Net;
using System.Net.Http.Headers;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>X-Agent-Secret on the agent routes only: missing, unknown, wrong and revoked credentials get one and the
/// same 401; an agent can only act as itself; user credentials mean nothing there.</summary>
public sealed class AgentAuthenticationTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task Missing_unknown_wrong_and_revoked_credentials_get_the_same_401()
    {
        using var agent = await MintAgentAsync();
        using var revoked = await MintAgentAsync();
        var (admin, _) = await AsAsync(BaseRole.Admin);
        await admin.PostAsync($"/api/v1/agents/{revoked.Id}/revoke", null);

        var attempts = new[]
        {
            Send(agent.Id, null),
            Send(agent.Id, "wrong-secret"),
            Send(agent.Id, agent.Secret + "x"),
            Send(Guid.NewGuid(), agent.Secret),
            Send(revoked.Id, revoked.Secret),
            Send(revoked.Id, agent.Secret),
        };
        var bodies = new List<string>();
        foreach (var attempt in attempts)
        {
            var response = await attempt;
            (await response.ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Agent authentication failed");
            response.Headers.WwwAuthenticate.ToString().ShouldBe("X-Agent-Secret");
            bodies.Add(await response.Content.ReadAsStringAsync());
        }

        bodies.Distinct().Count().ShouldBe(1);
        (await Send(agent.Id, agent.Secret)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
    }

    [Fact]
    public async Task An_agent_secret_works_only_on_its_own_path()
    {
        using var first = await MintAgentAsync();
        using var second = await MintAgentAsync();

        await (await first.Client.PostAsync($"/api/v1/agents/{second.Id}/heartbeat", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await first.Client.GetAsync("/api/v1/agents")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await first.Client.PostAsync("/api/v1/requests/read", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task User_credentials_do_not_open_agent_routes()
    {
        using var agent = await MintAgentAsync();
        var (admin, _) = await AsAsync(BaseRole.Admin);

        await (await admin.PostAsync(agent.Path("jobs/claim"), null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

        var both = Fixture.CreateClient();
        both.DefaultRequestHeaders.Authorization = admin.DefaultRequestHeaders.Authorization;
        both.DefaultRequestHeaders.Add("X-Agent-Secret", agent.Secret);
        (await both.PostAsync(agent.Path("heartbeat"), null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await Fixture.ScalarAsync<string>("SELECT actor_type FROM identity.audit_log WHERE action = 'agent.dek.issue' LIMIT 1")).ShouldBeNull();
        (await both.PostAsync(agent.Path("dek"), null)).StatusCode.ShouldBe(HttpStatusCode.Created);
        (await Fixture.ScalarAsync<string>("SELECT actor_type FROM identity.audit_log WHERE action = 'agent.dek.issue'")).ShouldBe("agent", "the agent acts, never the user whose key came along");
    }

    [Fact]
    public async Task A_malformed_agent_id_is_a_400()
    {
        var client = Fixture.CreateClient();
        client.DefaultRequestHeaders.Add("X-Agent-Secret", "anything");

        var response = await client.PostAsync("/api/v1/agents/not-a-uuid/heartbeat", null);

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("id", out _).ShouldBeTrue();
    }

    private Task<HttpResponseMessage> Send(Guid agentId, string? secret)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/v1/agents/{agentId}/heartbeat");
        if (secret is not null)
        {
            request.Headers.Add("X-Agent-Secret", secret);
        }

        request.Headers.Authorization = secret is null ? null : new AuthenticationHeaderValue("Bearer", "not-a-key");
        return Client.SendAsync(request);
    }
}
