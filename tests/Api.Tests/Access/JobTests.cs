using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>The agents' queue: manual enqueue, claim under a lease (re-claimable when it runs out, filtered by scope),
/// completion by the claimant only.</summary>
public sealed class JobTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task An_admin_queues_a_job_and_an_agent_claims_it_under_a_30_second_lease()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        using var agent = await MintAgentAsync();
        var correlation = Guid.NewGuid();

        var queued = await (await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "discover", payload = new { provider = "vault" }, correlation_id = correlation }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        queued.PropertyNames().ShouldBe(["id", "correlation_id", "status"]);
        queued.GetProperty("status").GetString().ShouldBe("queued");
        queued.GetProperty("correlation_id").GetGuid().ShouldBe(correlation);

        var job = (await agent.ClaimAsync())!.Value;
        job.PropertyNames().ShouldBe(["id", "job_type", "payload", "correlation_id", "request_id", "attempts", "claim_expires_at"]);
        job.GetProperty("id").GetGuid().ShouldBe(queued.GetProperty("id").GetGuid());
        job.GetProperty("payload").GetProperty("provider").GetString().ShouldBe("vault");
        var lease = job.GetProperty("claim_expires_at").GetDateTime() - DateTime.UtcNow;
        lease.TotalSeconds.ShouldBeInRange(20, 31);
        (await agent.ClaimAsync()).ShouldBeNull("the queue is empty now");
        (await AuditCountAsync("job.claim", correlation)).ShouldBe(1);
    }

    [Fact]
    public async Task An_expired_lease_is_claimable_again_and_only_the_new_claimant_completes()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        using var first = await MintAgentAsync();
        using var second = await MintAgentAsync();
        await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "verify" });
        var jobId = (await first.ClaimAsync())!.Value.GetProperty("id").GetGuid();
        (await second.ClaimAsync()).ShouldBeNull("a live lease is not claimable");

        await Fixture.ExecuteAsync("UPDATE access.jobs SET claim_expires_at = now() - interval '1 second'");
        var again = (await second.ClaimAsync())!.Value;

        again.GetProperty("id").GetGuid().ShouldBe(jobId);
        again.GetProperty("attempts").GetInt64().ShouldBe(2);
        (await (await first.CompleteAsync(jobId)).ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString().ShouldBe("job not owned by this agent");
        (await second.CompleteAsync(jobId)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await second.CompleteAsync(jobId, "failed")).StatusCode.ShouldBe(HttpStatusCode.NoContent, "a finished job's report is not changed by a repeat");
        (await Fixture.ScalarAsync<string>("SELECT status FROM access.jobs")).ShouldBe("succeeded");
        await (await first.CompleteAsync(jobId)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Agents_claim_only_jobs_their_scope_covers()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        using var euAgent = await MintAgentAsync("eu", new { cluster = "eu", region = "west" });
        using var usAgent = await MintAgentAsync("us", new { cluster = "us" });
        await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "sync", agent_scope = new { cluster = "eu" } });

        (await usAgent.ClaimAsync()).ShouldBeNull();
        (await euAgent.ClaimAsync()).ShouldNotBeNull();
    }

    [Fact]
    public async Task Complete_answers_400_404_and_409()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        using var agent = await MintAgentAsync();
        var jobId = (await (await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "sync" })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        await (await agent.CompleteAsync(jobId)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await agent.CompleteAsync(Guid.NewGuid())).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await agent.ClaimAsync();
        (await (await agent.CompleteAsync(jobId, "done")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("status", out _).ShouldBeTrue();
        await (await agent.Client.PostAsJsonAsync(agent.Path("jobs/not-a-uuid/complete"), new { status = "succeeded" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Enqueue_needs_an_admin_and_valid_input()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var requestId = (await SubmitReadAsync(developer)).GetProperty("id").GetGuid();

        await (await Client.PostAsJsonAsync("/api/v1/jobs", new { job_type = "sync" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await operatorClient.PostAsJsonAsync("/api/v1/jobs", new { job_type = "sync" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        foreach (var (body, field) in new (object Body, string Field)[]
                 {
                     (new { }, "job_type"),
                     (new { job_type = "explode" }, "job_type"),
                     (new { job_type = "sync", agent_scope = new { n = 1 } }, "agent_scope"),
                     (new { job_type = "sync", payload = new[] { 1 } }, "payload"),
                     (new { job_type = "sync", request_id = Guid.NewGuid() }, "request_id"),
                     (new { job_type = "read", request_id = requestId }, "job_type"),
                 })
        {
            (await (await admin.PostAsJsonAsync("/api/v1/jobs", body)).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(field);
        }
    }
}
