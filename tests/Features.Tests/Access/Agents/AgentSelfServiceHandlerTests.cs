using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Capstan.Features.Access.Agents;
using Capstan.Features.Access.Requests;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access.Agents;

/// <summary>The agent-side slices sent as an agent through the real pipeline: heartbeats (liveness, rate limit), public
/// key registration, and the wrap an agent uploads for an approved read request it has claimed.</summary>
public sealed class AgentSelfServiceHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    /// <summary>An approved read request of <paramref name="keys"/> whose job <paramref name="agent"/> has claimed.</summary>
    private async Task<Guid> ClaimedReadAsync(AgentIdentity agent, params string[] keys)
    {
        var requester = await Fixture.CreateUserAsync(BaseRole.Developer);
        var approver = await Fixture.CreateUserAsync(BaseRole.Operator);
        var request = await SendAsync(CallerOf(requester), new SubmitReadRequest.Command(null, null, null, "vault", null, "apps/db", [.. keys], "incident", null));
        await SendAsync(CallerOf(approver), new ApproveRequest.Command(request.Id, null, null));
        (await SendAsAgentAsync(agent, new ClaimJob.Command()))!.RequestId.ShouldBe(request.Id);
        return request.Id;
    }

    private Task<long> WrapCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps");

    private static PostWrap.AgentEnvelope Seal(byte[] key, string value, string dekCiphertext)
    {
        var nonce = RandomNumberGenerator.GetBytes(12);
        var plaintext = Encoding.UTF8.GetBytes(value);
        var ciphertext = new byte[plaintext.Length + 16];
        using (var aes = new AesGcm(key, 16))
        {
            aes.Encrypt(nonce, plaintext, ciphertext.AsSpan(0, plaintext.Length), ciphertext.AsSpan(plaintext.Length));
        }

        return new PostWrap.AgentEnvelope("aes-256-gcm", Convert.ToBase64String(ciphertext), Convert.ToBase64String(nonce), dekCiphertext, null);
    }

    [Fact]
    public async Task A_heartbeat_records_when_the_agent_was_seen_and_revives_a_stale_one_without_auditing()
    {
        var (agent, _) = await CreateAgentAsync();
        var (stale, _) = await CreateAgentAsync();
        await Fixture.ExecuteAsync("UPDATE access.agents SET status = 'stale' WHERE id = @Id", new { stale.Id });

        await SendAsAgentAsync(agent, new Heartbeat.Command());
        await SendAsAgentAsync(stale, new Heartbeat.Command());

        var rows = await Fixture.QueryAsync<(Guid Id, string Status, DateTime? LastSeenAt)>("SELECT id, status, last_seen_at FROM access.agents");
        rows.ShouldAllBe(row => row.Status == "active" && row.LastSeenAt != null);
        (DateTime.UtcNow - rows[0].LastSeenAt!.Value.ToUniversalTime()).ShouldBeLessThan(TimeSpan.FromMinutes(5));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log")).ShouldBe(0);
    }

    [Fact]
    public async Task A_heartbeat_never_brings_back_a_revoked_agent()
    {
        var (agent, _) = await CreateAgentAsync();
        await Fixture.ExecuteAsync("UPDATE access.agents SET status = 'revoked', revoked_at = now() WHERE id = @Id", new { agent.Id });

        await SendAsAgentAsync(agent, new Heartbeat.Command());

        var row = (await Fixture.QueryAsync<(string Status, DateTime? LastSeenAt)>("SELECT status, last_seen_at FROM access.agents")).Single();
        row.Status.ShouldBe("revoked");
        row.LastSeenAt.ShouldBeNull();
    }

    [Fact]
    public async Task Heartbeats_are_rate_limited_per_agent()
    {
        var (agent, _) = await CreateAgentAsync();
        var (other, _) = await CreateAgentAsync();
        for (var i = 0; i < 12; i++)
        {
            await SendAsAgentAsync(agent, new Heartbeat.Command());
        }

        var refused = await Should.ThrowAsync<TooManyRequestsException>(() => SendAsAgentAsync(agent, new Heartbeat.Command()));

        refused.RetryAfter.ShouldBeGreaterThan(TimeSpan.Zero);
        await SendAsAgentAsync(other, new Heartbeat.Command());
        (await Fixture.ScalarAsync<DateTime?>("SELECT last_seen_at FROM access.agents WHERE id = @Id", new { other.Id })).ShouldNotBeNull();
    }

    [Fact]
    public async Task An_agent_registers_and_replaces_its_public_key_and_the_change_is_audited()
    {
        var (agent, _) = await CreateAgentAsync();
        var (_, first) = WireSealing.GenerateKeyPair();
        var (_, second) = WireSealing.GenerateKeyPair();

        await SendAsAgentAsync(agent, new RegisterPublicKey.Command(Convert.ToBase64String(first), null));
        (await Fixture.ScalarAsync<byte[]>("SELECT public_key FROM access.agents WHERE id = @Id", new { agent.Id })).ShouldBe(first);
        await SendAsAgentAsync(agent, new RegisterPublicKey.Command(Convert.ToBase64String(second), "x25519"));

        var row = (await Fixture.QueryAsync<(byte[] PublicKey, string Algorithm)>("SELECT public_key, public_key_algorithm FROM access.agents WHERE id = @Id", new { agent.Id })).Single();
        row.PublicKey.ShouldBe(second);
        row.Algorithm.ShouldBe("x25519");
        var audits = await Fixture.QueryAsync<(string ActorType, Guid ActorId, string Metadata)>(
            "SELECT actor_type, actor_id, metadata::text FROM identity.audit_log WHERE action = 'agent.public_key.set' ORDER BY occurred_at, id");
        audits.Count.ShouldBe(2);
        audits.ShouldAllBe(audit => audit.ActorType == "agent" && audit.ActorId == agent.Id);
        var fingerprint = Base64Url.EncodeToString(SHA256.HashData(second).AsSpan(0, 8));
        audits[1].Metadata.ShouldContain(fingerprint);
        audits[1].Metadata.ShouldNotContain(Convert.ToBase64String(second));
    }

    [Theory]
    [InlineData("not base64!", null, "public_key")]
    [InlineData("AAAA", null, "public_key")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", null, "public_key")]
    [InlineData("ok", "rsa", "public_key_algorithm")]
    public async Task A_bad_public_key_is_a_400_naming_the_field_and_nothing_is_stored(string key, string? algorithm, string field)
    {
        var (agent, _) = await CreateAgentAsync();
        var publicKey = key == "ok" ? Convert.ToBase64String(WireSealing.GenerateKeyPair().PublicKey) : key;

        var failure = await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new RegisterPublicKey.Command(publicKey, algorithm)));

        failure.Details!.Keys.ShouldBe([field]);
        (await Fixture.ScalarAsync<byte[]>("SELECT public_key FROM access.agents WHERE id = @Id", new { agent.Id })).ShouldBeNull();
    }

    [Fact]
    public async Task A_low_order_key_and_an_empty_or_oversized_key_are_refused()
    {
        var (agent, _) = await CreateAgentAsync();

        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new RegisterPublicKey.Command(Convert.ToBase64String(new byte[32]), null))))
            .Message.ShouldBe("public_key is a low-order X25519 point");
        (await Should.ThrowAsync<ValidationException>(() => SendAsAgentAsync(agent, new RegisterPublicKey.Command(string.Empty, null))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["public_key"]);
        await Should.ThrowAsync<ValidationException>(() => SendAsAgentAsync(agent, new RegisterPublicKey.Command(new string('A', 101), null)));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'agent.public_key.set'")).ShouldBe(0);
    }

    [Fact]
    public async Task A_plain_value_is_stored_encrypted_for_one_retrieval_and_audited()
    {
        var (agent, _) = await CreateAgentAsync();
        var requestId = await ClaimedReadAsync(agent, "PASSWORD", "USER");

        var created = await SendAsAgentAsync(agent, new PostWrap.Command(requestId, " PASSWORD ", Base64("s3cr3t-value"), null));

        created.RequestId.ShouldBe(requestId);
        created.KeyName.ShouldBe("PASSWORD");
        created.ByteLength.ShouldBe(12);
        created.ContentHash.ShouldBe(Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes("s3cr3t-value"))).ToLowerInvariant());
        (created.ExpiresAt - DateTime.UtcNow).TotalMinutes.ShouldBeInRange(55, 61, "the default workflow keeps an approved wrap an hour");
        var wrap = (await Fixture.QueryAsync<(Guid Id, string KeyName, byte[] Envelope, string Origin, long ByteLength)>(
            "SELECT id, key_name, envelope, origin, byte_length FROM access.wraps WHERE request_id = @Id", new { Id = requestId })).Single();
        wrap.Id.ShouldBe(created.WrapId);
        wrap.KeyName.ShouldBe("PASSWORD");
        wrap.Origin.ShouldBe("agent");
        wrap.ByteLength.ShouldBe(12);
        Encoding.UTF8.GetString(wrap.Envelope).ShouldNotContain("s3cr3t-value");
        Fixture.Services.GetRequiredService<EnvelopeCipher>().DecryptString(wrap.Envelope, $"access.wraps:{wrap.Id}").ShouldBe("s3cr3t-value");
        var audit = (await Fixture.QueryAsync<(Guid ActorId, string Metadata, Guid CorrelationId)>(
            "SELECT actor_id, metadata::text, correlation_id FROM identity.audit_log WHERE action = 'wrap.create'")).Single();
        audit.ActorId.ShouldBe(agent.Id);
        audit.CorrelationId.ShouldBe(requestId);
        audit.Metadata.ShouldContain("\"transport\": \"plain\"");
        audit.Metadata.ShouldNotContain("s3cr3t-value");
    }

    [Fact]
    public async Task An_envelope_under_a_data_key_issued_to_the_agent_is_opened_and_re_encrypted()
    {
        var (agent, _) = await CreateAgentAsync();
        var requestId = await ClaimedReadAsync(agent, "K");
        var dek = await SendAsAgentAsync(agent, new IssueDek.Command());

        var created = await SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", null, Seal(Convert.FromBase64String(dek.Plaintext), "sealed-in-transit", dek.Ciphertext)));

        created.ByteLength.ShouldBe("sealed-in-transit".Length);
        var envelope = (await Fixture.ScalarAsync<byte[]>("SELECT envelope FROM access.wraps WHERE id = @Id", new { Id = created.WrapId }))!;
        Fixture.Services.GetRequiredService<EnvelopeCipher>().DecryptString(envelope, $"access.wraps:{created.WrapId}").ShouldBe("sealed-in-transit");
        (await Fixture.ScalarAsync<string>("SELECT metadata ->> 'transport' FROM identity.audit_log WHERE action = 'wrap.create'")).ShouldBe("aes-256-gcm");
    }

    [Fact]
    public async Task An_envelope_under_another_agents_data_key_or_with_a_bad_nonce_is_refused()
    {
        var (agent, _) = await CreateAgentAsync();
        var (other, _) = await CreateAgentAsync();
        var requestId = await ClaimedReadAsync(agent, "K");
        var foreign = await SendAsAgentAsync(other, new IssueDek.Command());
        var own = await SendAsAgentAsync(agent, new IssueDek.Command());
        var badNonce = Seal(Convert.FromBase64String(own.Plaintext), "v", own.Ciphertext) with { Nonce = Convert.ToBase64String(new byte[8]) };
        var tampered = Seal(Convert.FromBase64String(own.Plaintext), "v", own.Ciphertext);
        tampered = tampered with { Ciphertext = Convert.ToBase64String(Convert.FromBase64String(tampered.Ciphertext!).Select(b => (byte)(b ^ 1)).ToArray()) };

        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", null, Seal(Convert.FromBase64String(foreign.Plaintext), "v", foreign.Ciphertext)))))
            .Message.ShouldBe("envelope: the data key was not issued to this agent");
        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", null, badNonce))))
            .Details!.Keys.ShouldBe(["envelope"]);
        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", null, tampered))))
            .Details!.Keys.ShouldBe(["envelope.ciphertext"]);
        (await WrapCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_wrap_needs_a_read_request_approved_and_claimed_by_this_agent()
    {
        var (agent, _) = await CreateAgentAsync();
        var (other, _) = await CreateAgentAsync();
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var pending = await SendAsync(CallerOf(developer), new SubmitReadRequest.Command(null, null, null, "vault", null, "apps/db", ["K"], "j", null));
        var patch = await SendAsync(CallerOf(developer), new SubmitPatchRequest.Command(null, null, null, "vault", null, "apps/db", new Dictionary<string, string> { ["K"] = "v" }, "j"));
        var claimed = await ClaimedReadAsync(agent, "K");

        (await Should.ThrowAsync<NotFoundException>(() => SendAsAgentAsync(agent, new PostWrap.Command(Guid.CreateVersion7(), "K", Base64("v"), null)))).Message.ShouldBe("request not found");
        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new PostWrap.Command(patch.Id, "K", Base64("v"), null))))
            .Message.ShouldBe("wrap creation only supported for read requests");
        (await Should.ThrowAsync<ConflictException>(() => SendAsAgentAsync(agent, new PostWrap.Command(pending.Id, "K", Base64("v"), null))))
            .Message.ShouldBe("request is not approved (it is pending)");
        (await Should.ThrowAsync<ConflictException>(() => SendAsAgentAsync(other, new PostWrap.Command(claimed, "K", Base64("v"), null))))
            .Message.ShouldBe("the request's job is not claimed by this agent");
        (await WrapCountAsync()).ShouldBe(1, "only the patch request's own wrap");
    }

    [Fact]
    public async Task A_wrap_must_name_a_target_key_once()
    {
        var (agent, _) = await CreateAgentAsync();
        var requestId = await ClaimedReadAsync(agent, "K", "L");
        await SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", Base64("first"), null));

        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new PostWrap.Command(requestId, "OTHER", Base64("v"), null))))
            .Details!.Keys.ShouldBe(["key_name"]);
        (await Should.ThrowAsync<ConflictException>(() => SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", Base64("second"), null))))
            .Message.ShouldBe("a wrap for this key already exists on the request");
        (await WrapCountAsync()).ShouldBe(1);
        var (id, envelope) = (await Fixture.QueryAsync<(Guid Id, byte[] Envelope)>("SELECT id, envelope FROM access.wraps")).Single();
        Fixture.Services.GetRequiredService<EnvelopeCipher>().DecryptString(envelope, $"access.wraps:{id}").ShouldBe("first");
    }

    [Fact]
    public async Task Each_target_key_gets_its_own_wrap_and_a_bad_value_for_the_second_is_a_400()
    {
        var (agent, _) = await CreateAgentAsync();
        var requestId = await ClaimedReadAsync(agent, "K", "L");
        await SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", Base64("first"), null));

        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new PostWrap.Command(requestId, "L", "not base64!", null))))
            .Details!.Keys.ShouldBe(["value"]);
        await SendAsAgentAsync(agent, new PostWrap.Command(requestId, "L", Base64("second"), null));

        (await WrapCountAsync()).ShouldBe(2);
    }

    [Fact]
    public async Task A_value_over_64_KiB_is_refused()
    {
        var (agent, _) = await CreateAgentAsync();
        var requestId = await ClaimedReadAsync(agent, "K");

        (await Should.ThrowAsync<BadRequestException>(() => SendAsAgentAsync(agent, new PostWrap.Command(requestId, "K", Convert.ToBase64String(new byte[PostWrap.MaxValueBytes + 1]), null))))
            .Message.ShouldBe($"the value may be at most {PostWrap.MaxValueBytes} bytes");
        (await WrapCountAsync()).ShouldBe(0);
    }

    [Theory]
    [InlineData(false, "K", "dg==", false, null, "request_id")]
    [InlineData(true, "", "dg==", false, null, "key_name")]
    [InlineData(true, "K", null, false, null, "value")]
    [InlineData(true, "K", "dg==", true, "aes-256-gcm", "value")]
    [InlineData(true, "K", null, true, "aes-128-cbc", "envelope.algorithm")]
    public async Task The_wrap_validator_names_each_bad_field(bool withRequest, string keyName, string? value, bool withEnvelope, string? algorithm, string field)
    {
        var (agent, _) = await CreateAgentAsync();
        var envelope = withEnvelope ? new PostWrap.AgentEnvelope(algorithm, "Y2lwaGVy", "bm9uY2U=", "ZGVr", null) : null;

        var failure = await Should.ThrowAsync<ValidationException>(() => SendAsAgentAsync(agent, new PostWrap.Command(withRequest ? Guid.CreateVersion7() : null, keyName, value, envelope)));

        failure.Errors.Select(error => error.PropertyName).ShouldContain(field);
    }
}
