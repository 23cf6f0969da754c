using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>The wrap routes on both sides: agents fetch patch values and upload read values; requesters list and
/// retrieve. Single-shot, state-checked before consuming, owner-only.</summary>
public sealed class WrapTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task An_agent_without_a_key_gets_the_value_in_clear_once()
    {
        using var agent = await MintAgentAsync();
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "plain-value" })).GetProperty("id").GetGuid();
        var wrapId = await Fixture.ScalarAsync<Guid>("SELECT id FROM access.wraps");
        (await (await agent.Client.GetAsync(agent.Path($"wraps/{wrapId}"))).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString()!.ShouldStartWith("owning request is not approved");
        await ApproveAsync(operatorClient, requestId);
        (await (await agent.Client.GetAsync(agent.Path($"wraps/{wrapId}"))).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString().ShouldBe("the request's job is not claimed by this agent");
        await agent.ClaimAsync();

        var body = await (await agent.Client.GetAsync(agent.Path($"wraps/{wrapId}"))).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["wrap_id", "request_id", "key_name", "value", "byte_length", "content_hash", "algorithm"]);
        Encoding.UTF8.GetString(Convert.FromBase64String(body.GetProperty("value").GetString()!)).ShouldBe("plain-value");
        (await (await agent.Client.GetAsync(agent.Path($"wraps/{wrapId}"))).ShouldBeErrorAsync(HttpStatusCode.Gone)).GetProperty("message").GetString().ShouldBe("wrap already consumed");
        await (await agent.Client.GetAsync(agent.Path($"wraps/{Guid.NewGuid()}"))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Claiming_a_patch_job_shortens_its_wraps_and_an_expired_wrap_is_gone()
    {
        using var agent = await MintAgentAsync();
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, requestId);
        (await Fixture.ScalarAsync<double>("SELECT extract(epoch FROM expires_at - now()) FROM access.wraps")).ShouldBeInRange(3500, 3601, "approved: wrap_ttl_approved");
        await agent.ClaimAsync();
        (await Fixture.ScalarAsync<double>("SELECT extract(epoch FROM expires_at - now()) FROM access.wraps")).ShouldBeInRange(250, 301, "claimed: wrap_ttl_claimed");

        await Fixture.ExecuteAsync("UPDATE access.wraps SET expires_at = now() - interval '1 second'");
        var wrapId = await Fixture.ScalarAsync<Guid>("SELECT id FROM access.wraps");

        (await (await agent.Client.GetAsync(agent.Path($"wraps/{wrapId}"))).ShouldBeErrorAsync(HttpStatusCode.Gone)).GetProperty("message").GetString().ShouldBe("wrap expired");
        (await Fixture.ScalarAsync<string>("SELECT metadata ->> 'error_kind' FROM identity.audit_log WHERE action = 'wrap.retrieve' AND result = 'denied'")).ShouldBe("expired");
    }

    [Fact]
    public async Task Agents_upload_read_values_only_for_approved_read_requests_whose_job_they_hold()
    {
        using var agent = await MintAgentAsync();
        using var bystander = await MintAgentAsync();
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var readId = (await SubmitReadAsync(developer, ["USER", "PASS"])).GetProperty("id").GetGuid();
        var patchId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();

        (await (await agent.Client.PostAsJsonAsync(agent.Path("wraps"), new { request_id = readId, key_name = "USER", value = "dQ==" })).ShouldBeErrorAsync(HttpStatusCode.Conflict))
            .GetProperty("message").GetString()!.ShouldStartWith("request is not approved");
        await ApproveAsync(operatorClient, readId);
        await ApproveAsync(operatorClient, patchId);
        await (await agent.Client.PostAsJsonAsync(agent.Path("wraps"), new { request_id = readId, key_name = "USER", value = "dQ==" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        var first = (await agent.ClaimAsync())!.Value;
        var second = (await agent.ClaimAsync())!.Value;
        first.GetProperty("request_id").GetGuid().ShouldBe(readId);
        second.GetProperty("request_id").GetGuid().ShouldBe(patchId);

        var created = await (await agent.Client.PostAsJsonAsync(agent.Path("wraps"), new { request_id = readId, key_name = "USER", value = Convert.ToBase64String("svc-user"u8.ToArray()) }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        created.GetProperty("content_hash").GetString().ShouldBe(Convert.ToHexString(SHA256.HashData("svc-user"u8.ToArray())).ToLowerInvariant());
        (created.GetProperty("expires_at").GetDateTime() - DateTime.UtcNow).TotalMinutes.ShouldBeInRange(55, 61);

        await (await agent.Client.PostAsJsonAsync(agent.Path("wraps"), new { request_id = readId, key_name = "USER", value = "dQ==" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await bystander.PostValueAsync(readId, "PASS", "x"u8.ToArray())).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await agent.Client.PostAsJsonAsync(agent.Path("wraps"), new { request_id = Guid.NewGuid(), key_name = "USER", value = "dQ==" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        foreach (var (body, field) in new (object Body, string Field)[]
                 {
                     (new { request_id = readId, key_name = "OTHER", value = "dQ==" }, "key_name"),
                     (new { request_id = readId, key_name = "PASS" }, "value"),
                     (new { request_id = readId, key_name = "PASS", value = "dQ==", envelope = new { algorithm = "aes-256-gcm", ciphertext = "AA==", nonce = "AA==", dek_ciphertext = "AA==" } }, "value"),
                     (new { request_id = readId, key_name = "PASS", value = "not base64!" }, "value"),
                     (new { key_name = "PASS", value = "dQ==" }, "request_id"),
                     (new { request_id = patchId, key_name = "K", value = "dQ==" }, "request_id"),
                     (new { request_id = readId, key_name = "PASS", envelope = new { algorithm = "rot13", ciphertext = "AA==", nonce = "AA==", dek_ciphertext = "AA==" } }, "envelope.algorithm"),
                 })
        {
            (await (await agent.Client.PostAsJsonAsync(agent.Path("wraps"), body)).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
                .GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(field);
        }
    }

    [Fact]
    public async Task A_data_key_opens_only_for_the_agent_it_was_issued_to_and_tampering_is_refused()
    {
        using var agent = await MintAgentAsync();
        using var other = await MintAgentAsync();
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var readId = (await SubmitReadAsync(developer, ["PASS"])).GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, readId);
        await agent.ClaimAsync();
        var dek = await (await agent.Client.PostAsync(agent.Path("dek"), null)).ShouldBeJsonAsync(HttpStatusCode.Created);
        dek.PropertyNames().ShouldBe(["algorithm", "plaintext", "ciphertext", "kms_key_id"]);
        Convert.FromBase64String(dek.GetProperty("plaintext").GetString()!).Length.ShouldBe(32);
        var foreignDek = await (await other.Client.PostAsync(other.Path("dek"), null)).ShouldBeJsonAsync(HttpStatusCode.Created);
        var nonce = RandomNumberGenerator.GetBytes(12);
        var sealedBytes = IndependentSealing.AesGcmSeal(Convert.FromBase64String(foreignDek.GetProperty("plaintext").GetString()!), nonce, "pw"u8.ToArray());

        var foreign = await agent.Client.PostAsJsonAsync(agent.Path("wraps"), new
        {
            request_id = readId,
            key_name = "PASS",
            envelope = new { algorithm = "aes-256-gcm", ciphertext = Convert.ToBase64String(sealedBytes), nonce = Convert.ToBase64String(nonce), dek_ciphertext = foreignDek.GetProperty("ciphertext").GetString() },
        });
        (await foreign.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("envelope.dek_ciphertext", out _).ShouldBeTrue();

        var mine = IndependentSealing.AesGcmSeal(Convert.FromBase64String(dek.GetProperty("plaintext").GetString()!), nonce, "pw"u8.ToArray());
        mine[0] ^= 1;
        var tampered = await agent.Client.PostAsJsonAsync(agent.Path("wraps"), new
        {
            request_id = readId,
            key_name = "PASS",
            envelope = new { algorithm = "aes-256-gcm", ciphertext = Convert.ToBase64String(mine), nonce = Convert.ToBase64String(nonce), dek_ciphertext = dek.GetProperty("ciphertext").GetString() },
        });
        (await tampered.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("envelope.ciphertext", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Requesters_alone_list_and_retrieve_and_only_while_the_request_is_approved_or_executed()
    {
        using var agent = await MintAgentAsync();
        var (developer, user) = await AsAsync(BaseRole.Developer);
        var (other, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var readId = (await SubmitReadAsync(developer, ["A", "B"])).GetProperty("id").GetGuid();
        var patchId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, readId);
        await agent.ClaimAsync();
        var wrapA = (await (await agent.PostValueAsync(readId, "A", "1"u8.ToArray())).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("wrap_id").GetGuid();
        var wrapB = (await (await agent.PostValueAsync(readId, "B", "2"u8.ToArray())).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("wrap_id").GetGuid();
        var patchWrap = await Fixture.ScalarAsync<Guid>("SELECT id FROM access.wraps WHERE request_id = @Id", new { Id = patchId });

        var summaries = await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps?user_id={user.Id}")).ShouldBeJsonAsync();
        summaries[0].PropertyNames().ShouldBe(["id", "key_name", "consumed", "consumed_at", "available", "byte_length", "origin", "expires_at", "created_at"]);
        await (await other.GetAsync($"/api/v1/requests/{readId}/wraps")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await operatorClient.GetAsync($"/api/v1/requests/{readId}/wraps")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps?user_id={Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await Client.GetAsync($"/api/v1/requests/{readId}/wraps")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        var (viewer, _) = await AsAsync(BaseRole.Viewer);
        await (await viewer.GetAsync($"/api/v1/requests/{readId}/wraps")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);

        await (await other.GetAsync($"/api/v1/requests/{readId}/wraps/{wrapA}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await developer.GetAsync($"/api/v1/requests/{patchId}/wraps/{patchWrap}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps/{patchWrap}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps/{wrapA}?user_id={Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await Client.GetAsync($"/api/v1/requests/{readId}/wraps/{wrapA}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

        (await developer.GetAsync($"/api/v1/requests/{readId}/wraps/{wrapA}")).StatusCode.ShouldBe(HttpStatusCode.OK);
        await Fixture.ExecuteAsync("UPDATE access.wraps SET expires_at = now() - interval '1 second' WHERE id = @Id", new { Id = wrapB });
        (await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps/{wrapB}")).ShouldBeErrorAsync(HttpStatusCode.Gone)).GetProperty("error").GetString().ShouldBe("expired");
        await Fixture.ExecuteAsync("UPDATE access.requests SET status = 'failed' WHERE id = @Id", new { Id = readId });
        await (await developer.GetAsync($"/api/v1/requests/{readId}/wraps/{wrapA}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }
}
