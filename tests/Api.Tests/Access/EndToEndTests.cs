using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>A real agent through both request flows, from submission to <c>executed</c>.</summary>
public sealed class EndToEndTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task A_patch_request_travels_from_submission_to_executed_with_the_values_sealed_to_the_agent()
    {
        using var agent = await MintAgentAsync("patcher-1");
        await agent.RegisterKeyAsync();
        await agent.HeartbeatAsync();
        var (developer, requester) = await AsAsync(BaseRole.Developer);
        var (operatorClient, approver) = await AsAsync(BaseRole.Operator);
        var values = new Dictionary<string, string> { ["DB_PASSWORD"] = "n3w-pa55-Ω", ["API_TOKEN"] = "tok-0123456789" };

        var submitted = await SubmitPatchAsync(developer, values);
        var requestId = submitted.GetProperty("id").GetGuid();
        submitted.GetProperty("status").GetString().ShouldBe("pending");
        submitted.GetProperty("type").GetString().ShouldBe("patch");
        submitted.GetProperty("requester_id").GetGuid().ShouldBe(requester.Id);
        submitted.GetProperty("target_keys").EnumerateArray().Select(key => key.GetString()).ShouldBe(["API_TOKEN", "DB_PASSWORD"]);

        (await agent.ClaimAsync()).ShouldBeNull("nothing is queued before the approval");

        var approved = await ApproveAsync(operatorClient, requestId);
        approved.GetProperty("status").GetString().ShouldBe("approved");
        var jobId = approved.GetProperty("job_id").GetGuid();
        approved.GetProperty("approvals")[0].GetProperty("approver_id").GetGuid().ShouldBe(approver.Id);

        var job = (await agent.ClaimAsync())!.Value;
        job.GetProperty("id").GetGuid().ShouldBe(jobId);
        job.GetProperty("job_type").GetString().ShouldBe("patch");
        job.GetProperty("correlation_id").GetGuid().ShouldBe(requestId);
        var payload = job.GetProperty("payload");
        payload.GetProperty("target_secret_ref").GetString().ShouldBe("prod/db");
        payload.GetProperty("target_provider_config").GetProperty("mount").GetString().ShouldBe("kv");
        var wraps = payload.GetProperty("wraps").EnumerateArray().ToDictionary(wrap => wrap.GetProperty("key_name").GetString()!, wrap => wrap.GetProperty("wrap_id").GetGuid());
        wraps.Keys.ShouldBe(["API_TOKEN", "DB_PASSWORD"], ignoreOrder: true);

        foreach (var (key, wrapId) in wraps)
        {
            Encoding.UTF8.GetString(await agent.FetchValueAsync(wrapId)).ShouldBe(values[key]);
            await (await agent.Client.GetAsync(agent.Path($"wraps/{wrapId}"))).ShouldBeErrorAsync(HttpStatusCode.Gone);
        }

        (await agent.CompleteAsync(jobId)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await agent.CompleteAsync(jobId)).StatusCode.ShouldBe(HttpStatusCode.NoContent, "a repeated report of a finished job is accepted");

        var done = await (await developer.GetAsync($"/api/v1/requests/{requestId}")).ShouldBeJsonAsync();
        done.GetProperty("status").GetString().ShouldBe("executed");
        done.GetProperty("completed_at").GetDateTime().ShouldBeGreaterThan(done.GetProperty("created_at").GetDateTime());

        var actions = await Fixture.QueryAsync<string>(
            "SELECT action FROM identity.audit_log WHERE correlation_id = @RequestId ORDER BY occurred_at, id", new { RequestId = requestId });
        actions.ShouldBe(
            [
                "request.submit", "wrap.create", "wrap.create", "request.transition", "job.enqueue", "request.approve", "job.claim",
                "wrap.retrieve", "wrap.retrieve", "wrap.retrieve", "wrap.retrieve", "job.complete", "request.transition",
                "request.gitops_observation_skipped", "job.complete.idempotent",
            ],
            ignoreOrder: true);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE correlation_id = @RequestId AND result = 'denied'", new { RequestId = requestId }))
            .ShouldBe(2, "the two refused second fetches are audited too");
        var agentRows = await Fixture.ScalarAsync<long>(
            "SELECT count(*) FROM identity.audit_log WHERE correlation_id = @RequestId AND actor_type = 'agent' AND actor_id = @AgentId", new { RequestId = requestId, AgentId = agent.Id });
        agentRows.ShouldBeGreaterThanOrEqualTo(5);

        var listed = await (await developer.GetAsync("/api/v1/agents")).ShouldBeJsonAsync();
        var me = listed.EnumerateArray().Single(row => row.GetProperty("id").GetGuid() == agent.Id);
        me.GetProperty("last_seen_at").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.String);
        me.GetProperty("public_key_algorithm").GetString().ShouldBe("x25519");
    }

    [Fact]
    public async Task A_read_request_travels_from_submission_to_executed_and_each_value_is_retrieved_once()
    {
        using var agent = await MintAgentAsync("reader-1");
        await agent.RegisterKeyAsync();
        await agent.HeartbeatAsync();
        var (developer, requester) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);

        var submitted = await SubmitReadAsync(developer, ["USERNAME", "PASSWORD"]);
        var requestId = submitted.GetProperty("id").GetGuid();
        submitted.GetProperty("type").GetString().ShouldBe("read");
        (await (await developer.GetAsync($"/api/v1/requests/{requestId}/wraps")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(0, "a read request has no wraps before the agent fetches");

        var jobId = (await ApproveAsync(operatorClient, requestId)).GetProperty("job_id").GetGuid();
        var job = (await agent.ClaimAsync())!.Value;
        job.GetProperty("id").GetGuid().ShouldBe(jobId);
        job.GetProperty("job_type").GetString().ShouldBe("read");
        job.GetProperty("payload").GetProperty("target_keys").EnumerateArray().Select(key => key.GetString()).ShouldBe(["PASSWORD", "USERNAME"]);
        job.GetProperty("payload").TryGetProperty("wraps", out _).ShouldBeFalse();

        var fetched = new Dictionary<string, string> { ["USERNAME"] = "payments", ["PASSWORD"] = "hunter2-but-longer" };
        foreach (var (key, value) in fetched)
        {
            var created = await (await agent.PostValueAsync(requestId, key, Encoding.UTF8.GetBytes(value))).ShouldBeJsonAsync(HttpStatusCode.Created);
            created.PropertyNames().ShouldBe(["wrap_id", "request_id", "key_name", "byte_length", "content_hash", "expires_at"]);
            created.GetProperty("byte_length").GetInt64().ShouldBe(Encoding.UTF8.GetByteCount(value));
        }

        (await agent.CompleteAsync(jobId)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await (await developer.GetAsync($"/api/v1/requests/{requestId}")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("executed");

        var summaries = await (await developer.GetAsync($"/api/v1/requests/{requestId}/wraps?user_id={requester.Id}")).ShouldBeJsonAsync();
        summaries.GetArrayLength().ShouldBe(2);
        foreach (var summary in summaries.EnumerateArray())
        {
            summary.GetProperty("consumed").GetBoolean().ShouldBeFalse();
            summary.GetProperty("available").GetBoolean().ShouldBeTrue();
            summary.TryGetProperty("value", out _).ShouldBeFalse();
            var wrapId = summary.GetProperty("id").GetGuid();
            var retrieved = await (await developer.GetAsync($"/api/v1/requests/{requestId}/wraps/{wrapId}?user_id={requester.Id}")).ShouldBeJsonAsync();
            retrieved.PropertyNames().ShouldBe(["wrap_id", "request_id", "key_name", "value", "byte_length", "content_hash", "algorithm"]);
            Encoding.UTF8.GetString(Convert.FromBase64String(retrieved.GetProperty("value").GetString()!)).ShouldBe(fetched[retrieved.GetProperty("key_name").GetString()!]);
            await (await developer.GetAsync($"/api/v1/requests/{requestId}/wraps/{wrapId}")).ShouldBeErrorAsync(HttpStatusCode.Gone);
        }

        var after = await (await developer.GetAsync($"/api/v1/requests/{requestId}/wraps")).ShouldBeJsonAsync();
        after.EnumerateArray().ShouldAllBe(summary => summary.GetProperty("consumed").GetBoolean() && !summary.GetProperty("available").GetBoolean());
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps WHERE request_id = @RequestId AND envelope IS NOT NULL", new { RequestId = requestId }))
            .ShouldBe(0, "consumed values leave no ciphertext behind");
        (await AuditCountAsync("request.transition", requestId)).ShouldBe(2);
    }

    [Fact]
    public async Task A_failed_job_fails_the_request_and_clears_its_values()
    {
        using var agent = await MintAgentAsync();
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, requestId);
        var job = (await agent.ClaimAsync())!.Value;

        (await agent.CompleteAsync(job.GetProperty("id").GetGuid(), "failed", "vault refused the write")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        (await (await developer.GetAsync($"/api/v1/requests/{requestId}")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("failed");
        (await Fixture.ScalarAsync<string>("SELECT payload ->> 'error' FROM access.jobs WHERE request_id = @RequestId", new { RequestId = requestId })).ShouldBe("vault refused the write");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps WHERE request_id = @RequestId AND envelope IS NOT NULL", new { RequestId = requestId })).ShouldBe(0);
    }
}
