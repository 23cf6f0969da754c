using System.Text.Json;
using Capstan.Features.Access.Agents;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access;

/// <summary>The agent-side handlers and the credential check behind the agent routes.</summary>
public sealed class AgentHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    [Fact]
    public async Task Credentials_verify_only_the_right_secret_of_a_live_agent()
    {
        var (agent, secret) = await CreateAgentAsync();
        var credentials = Fixture.Services.GetRequiredService<AgentCredentials>();

        (await credentials.VerifyAsync(agent.Id, secret, CancellationToken.None))!.Id.ShouldBe(agent.Id);
        (await credentials.VerifyAsync(agent.Id, secret + "x", CancellationToken.None)).ShouldBeNull();
        (await credentials.VerifyAsync(agent.Id, string.Empty, CancellationToken.None)).ShouldBeNull();
        (await credentials.VerifyAsync(agent.Id, null, CancellationToken.None)).ShouldBeNull();
        (await credentials.VerifyAsync(Guid.NewGuid(), secret, CancellationToken.None)).ShouldBeNull();
        await Fixture.ExecuteAsync("UPDATE access.agents SET status = 'revoked'");
        (await credentials.VerifyAsync(agent.Id, secret, CancellationToken.None)).ShouldBeNull();
    }

    [Fact]
    public async Task Mint_validates_names_and_keys()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var minted = await SendAsync(CallerOf(admin), new MintAgent.Command("ok-1", null, null, null));
        minted.AgentSecret.ShouldNotBeNullOrWhiteSpace();
        await Should.ThrowAsync<ConflictException>(() => SendAsync(CallerOf(admin), new MintAgent.Command("ok-1", null, null, null)));
        await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(admin), new MintAgent.Command("-bad", null, null, null)));
        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(CallerOf(admin), new MintAgent.Command("k", null, Convert.ToBase64String(new byte[16]), null))))
            .Details!.Keys.ShouldContain("public_key");
    }

    [Fact]
    public async Task Claim_takes_the_oldest_covered_job_under_a_lease_and_complete_is_idempotent()
    {
        var (agent, _) = await CreateAgentAsync("""{"cluster": "eu"}""");
        var older = Guid.CreateVersion7();
        var newer = Guid.CreateVersion7();
        var foreign = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO access.jobs (id, job_type, agent_scope, correlation_id, created_at) VALUES
                (@Foreign, 'sync', '{"cluster": "us"}', @Foreign, now() - interval '3 minutes'),
                (@Older, 'sync', '{"cluster": "eu"}', @Older, now() - interval '2 minutes'),
                (@Newer, 'sync', '{}', @Newer, now() - interval '1 minute')
            """,
            new { Older = older, Newer = newer, Foreign = foreign });

        var job = await SendAsAgentAsync(agent, new ClaimJob.Command());

        job!.Id.ShouldBe(older);
        (job.ClaimExpiresAt - DateTime.UtcNow).TotalSeconds.ShouldBeInRange(25, 31);
        (await SendAsAgentAsync(agent, new ClaimJob.Command()))!.Id.ShouldBe(newer);
        (await SendAsAgentAsync(agent, new ClaimJob.Command())).ShouldBeNull();
        await SendAsAgentAsync(agent, new CompleteJob.Command(older, "failed", "boom"));
        await SendAsAgentAsync(agent, new CompleteJob.Command(older, "succeeded", null));
        (await Fixture.ScalarAsync<string>("SELECT status || ':' || error FROM access.jobs WHERE id = @Id", new { Id = older })).ShouldBe("failed:boom");
        await Should.ThrowAsync<ConflictException>(() => SendAsAgentAsync(agent, new CompleteJob.Command(foreign, "succeeded", null)));
        await Should.ThrowAsync<ValidationException>(() => SendAsAgentAsync(agent, new CompleteJob.Command(newer, "ok", null)));
    }

    [Fact]
    public async Task Discovery_upserts_a_batch_atomically()
    {
        var (agent, _) = await CreateAgentAsync();
        var labels = JsonDocument.Parse("""{"team": "a"}""").RootElement;

        var result = await SendAsAgentAsync(agent, new UpsertDiscoveredSecrets.Command("c", "vault", null,
            [new("a", labels, "1", null, null, null), new("b", null, null, null, DateTimeOffset.UnixEpoch, null)]));

        result.Count.ShouldBe(2);
        await Should.ThrowAsync<ValidationException>(() => SendAsAgentAsync(agent, new UpsertDiscoveredSecrets.Command("c", "vault", null, [new("c", null, null, null, null, null), new(" ", null, null, null, null, null)])));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.discovered_secrets")).ShouldBe(2);
        (await Fixture.ScalarAsync<Guid>("SELECT reported_by FROM access.discovered_secrets LIMIT 1")).ShouldBe(agent.Id);
    }

    [Fact]
    public async Task A_data_key_is_bound_to_its_agent()
    {
        var (agent, _) = await CreateAgentAsync();
        var (other, _) = await CreateAgentAsync();

        var dek = await SendAsAgentAsync(agent, new IssueDek.Command());

        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        cipher.Decrypt(Convert.FromBase64String(dek.Ciphertext), $"access.dek:{agent.Id}").ShouldBe(Convert.FromBase64String(dek.Plaintext));
        Should.Throw<System.Security.Cryptography.CryptographicException>(() => cipher.Decrypt(Convert.FromBase64String(dek.Ciphertext), $"access.dek:{other.Id}"));
        dek.KmsKeyId.ShouldBe(Fixture.Services.GetRequiredService<MasterKey>().CurrentId);
    }

    [Fact]
    public async Task An_agent_with_a_key_gets_patch_values_sealed_to_it()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var approver = await Fixture.CreateUserAsync(BaseRole.Operator);
        var (privateKey, publicKey) = WireSealing.GenerateKeyPair();
        var (agent, _) = await CreateAgentAsync(publicKey: publicKey);
        var request = await SendAsync(CallerOf(developer), new Capstan.Features.Access.Requests.SubmitPatchRequest.Command(
            null, null, null, "vault", null, "x", new Dictionary<string, string> { ["K"] = "sealed-value" }, "j"));
        await SendAsync(CallerOf(approver), new Capstan.Features.Access.Requests.ApproveRequest.Command(request.Id, null, null));
        await SendAsAgentAsync(agent, new ClaimJob.Command());
        var wrapId = await Fixture.ScalarAsync<Guid>("SELECT id FROM access.wraps");

        var fetched = await SendAsAgentAsync(agent, new FetchWrap.Command(wrapId));

        fetched.Value.ShouldBeNull();
        System.Text.Encoding.UTF8.GetString(WireSealing.Open(fetched.Sealed!, privateKey)).ShouldBe("sealed-value");
        await Should.ThrowAsync<GoneException>(() => SendAsAgentAsync(agent, new FetchWrap.Command(wrapId)));
    }
}
