using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Capstan.Features.Access;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Access;

/// <summary>Minting, listing and revoking agents; the agent's own key registration and heartbeat.</summary>
public sealed class AgentTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task Mint_returns_the_secret_once_and_stores_only_its_hash()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);

        var body = await (await admin.PostAsJsonAsync("/api/v1/agents", new { name = "eu-west-1", scope = new { cluster = "eu" } })).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.PropertyNames().ShouldBe(["id", "name", "agent_secret", "status", "scope", "public_key_algorithm", "created_at"]);
        body.GetProperty("status").GetString().ShouldBe("active");
        body.GetProperty("scope").GetProperty("cluster").GetString().ShouldBe("eu");
        var secret = body.GetProperty("agent_secret").GetString()!;
        secret.Length.ShouldBeGreaterThanOrEqualTo(43);
        var stored = await Fixture.ScalarAsync<byte[]>("SELECT secret_hash FROM access.agents WHERE id = @Id", new { Id = body.GetProperty("id").GetGuid() });
        stored.ShouldBe(SHA256.HashData(Encoding.UTF8.GetBytes(secret)));

        var listed = (await (await admin.GetAsync("/api/v1/agents")).ShouldBeJsonAsync())[0];
        listed.PropertyNames().ShouldBe(["id", "name", "status", "scope", "public_key_algorithm", "public_key_sha", "last_seen_at", "revoked_at", "created_at", "updated_at"]);
        (await admin.GetStringAsync("/api/v1/agents")).ShouldNotContain(secret);
        (await AuditCountAsync("agent.mint")).ShouldBe(1);
    }

    [Fact]
    public async Task Mint_accepts_a_public_key_and_lists_only_its_fingerprint()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var publicKey = IndependentSealing.PublicKey(RandomNumberGenerator.GetBytes(32));

        var body = await (await admin.PostAsJsonAsync("/api/v1/agents", new { name = "keyed", public_key = Convert.ToBase64String(publicKey) })).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.GetProperty("public_key_algorithm").GetString().ShouldBe("x25519");
        var listed = (await (await admin.GetAsync("/api/v1/agents")).ShouldBeJsonAsync())[0];
        listed.GetProperty("public_key_sha").GetString()!.Length.ShouldBe(11);
        (await admin.GetStringAsync("/api/v1/agents")).ShouldNotContain(Convert.ToBase64String(publicKey));
    }

    [Theory]
    [InlineData("{}", "name")]
    [InlineData("""{"name": "has space"}""", "name")]
    [InlineData("""{"name": "a", "scope": {"n": 1}}""", "scope")]
    [InlineData("""{"name": "a", "public_key": "not base64!"}""", "public_key")]
    [InlineData("""{"name": "a", "public_key": "AAEC"}""", "public_key")]
    [InlineData("""{"name": "a", "public_key": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "public_key_algorithm": "x25519"}""", "public_key")]
    [InlineData("""{"name": "a", "public_key": "CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "public_key_algorithm": "ed25519"}""", "public_key_algorithm")]
    public async Task Mint_refuses_bad_input_with_a_400_naming_the_field(string json, string field)
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/agents", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(json);
    }

    [Fact]
    public async Task Mint_needs_agent_mint_and_a_free_name()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        await (await admin.PostAsJsonAsync("/api/v1/agents", new { name = "taken" })).ShouldBeJsonAsync(HttpStatusCode.Created);

        await (await admin.PostAsJsonAsync("/api/v1/agents", new { name = "taken" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await operatorClient.PostAsJsonAsync("/api/v1/agents", new { name = "other" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.PostAsJsonAsync("/api/v1/agents", new { name = "other" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync("/api/v1/agents")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Revoke_stops_the_secret_at_once_and_gives_its_jobs_back()
    {
        using var agent = await MintAgentAsync();
        var (admin, _) = await AsAsync(BaseRole.Admin);
        await (await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "sync" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        (await agent.ClaimAsync()).ShouldNotBeNull();

        (await admin.PostAsJsonAsync($"/api/v1/agents/{agent.Id}/revoke", new { reason = "host decommissioned" })).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await (await agent.Client.PostAsync(agent.Path("heartbeat"), null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await Fixture.ScalarAsync<string>("SELECT status FROM access.jobs")).ShouldBe("queued");
        var listed = (await (await admin.GetAsync("/api/v1/agents")).ShouldBeJsonAsync())[0];
        listed.GetProperty("status").GetString().ShouldBe("revoked");
        listed.GetProperty("revoked_at").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.String);
        (await admin.PostAsync($"/api/v1/agents/{agent.Id}/revoke", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent, "revoking twice is fine");
    }

    [Fact]
    public async Task Revoke_answers_404_400_403_and_401()
    {
        using var agent = await MintAgentAsync();
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);

        await (await admin.PostAsync($"/api/v1/agents/{Guid.NewGuid()}/revoke", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.PostAsync("/api/v1/agents/not-a-uuid/revoke", null)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await operatorClient.PostAsync($"/api/v1/agents/{agent.Id}/revoke", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.PostAsync($"/api/v1/agents/{agent.Id}/revoke", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task An_agent_registers_its_public_key_and_bad_keys_are_400()
    {
        using var agent = await MintAgentAsync();

        await agent.RegisterKeyAsync();

        (await Fixture.ScalarAsync<byte[]>("SELECT public_key FROM access.agents WHERE id = @Id", new { agent.Id })).ShouldBe(IndependentSealing.PublicKey(agent.PrivateKey!));
        (await Fixture.ScalarAsync<string>("SELECT metadata ->> 'public_key_sha' FROM identity.audit_log WHERE action = 'agent.public_key.set'")).ShouldNotBeNullOrEmpty();
        foreach (var (body, field) in new (object Body, string Field)[]
                 {
                     (new { }, "public_key"),
                     (new { public_key = "%%%" }, "public_key"),
                     (new { public_key = Convert.ToBase64String(new byte[31]) }, "public_key"),
                     (new { public_key = Convert.ToBase64String(new byte[32]) }, "public_key"),
                     (new { public_key = Convert.ToBase64String(IndependentSealing.PublicKey(RandomNumberGenerator.GetBytes(32))), public_key_algorithm = "rsa" }, "public_key_algorithm"),
                 })
        {
            (await (await agent.Client.PutAsJsonAsync(agent.Path("public-key"), body)).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
                .GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(field);
        }
    }

    [Fact]
    public async Task Heartbeats_record_last_seen_and_bring_a_stale_agent_back()
    {
        using var agent = await MintAgentAsync();
        await Fixture.ExecuteAsync("UPDATE access.agents SET created_at = now() - interval '1 hour'");
        await Fixture.Services.GetRequiredService<AccessMaintenance>().TryRunAsync(CancellationToken.None);
        (await Fixture.ScalarAsync<string>("SELECT status FROM access.agents")).ShouldBe("stale");

        await agent.HeartbeatAsync();

        (await Fixture.ScalarAsync<string>("SELECT status FROM access.agents")).ShouldBe("active");
        (await Fixture.ScalarAsync<DateTime?>("SELECT last_seen_at FROM access.agents")).ShouldNotBeNull();
        (await AuditCountAsync("Heartbeat")).ShouldBe(0, "heartbeats are not audit events");
    }
}
