using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>Exactly-once under contention: final votes, job claims and single-shot retrievals fired in parallel.</summary>
public sealed class ConcurrencyTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task Simultaneous_final_approvals_transition_the_request_once_and_queue_one_job()
    {
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();
        var approvers = new List<HttpClient>();
        for (var i = 0; i < 8; i++)
        {
            approvers.Add((await AsAsync(BaseRole.Operator)).Client);
        }

        var responses = await Task.WhenAll(approvers.Select(client => client.PostAsJsonAsync($"/api/v1/requests/{requestId}/approve", new { })));

        responses.Count(response => response.StatusCode == HttpStatusCode.OK).ShouldBe(1);
        responses.Count(response => response.StatusCode == HttpStatusCode.Conflict).ShouldBe(7);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.jobs WHERE request_id = @Id", new { Id = requestId })).ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.approvals WHERE request_id = @Id", new { Id = requestId })).ShouldBe(1);
        (await Fixture.ScalarAsync<long>(
            "SELECT count(*) FROM identity.audit_log WHERE correlation_id = @Id AND action = 'request.transition' AND metadata ->> 'to' = 'approved'", new { Id = requestId }))
            .ShouldBe(1);
        (await Fixture.ScalarAsync<Guid>("SELECT job_id FROM access.requests WHERE id = @Id", new { Id = requestId }))
            .ShouldBe(await Fixture.ScalarAsync<Guid>("SELECT id FROM access.jobs WHERE request_id = @Id", new { Id = requestId }));
    }

    [Fact]
    public async Task Simultaneous_votes_reaching_a_threshold_of_three_approve_once()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var workflow = await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "three-eyes", min_approvers = 3 })).ShouldBeJsonAsync(HttpStatusCode.Created);
        await (await admin.PostAsJsonAsync("/api/v1/policies", new { name = "payments", selector = new { secret_ref_prefix = "payments/" }, workflow_id = workflow.GetProperty("id").GetGuid(), priority = 500 }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" }, secretRef: "payments/api")).GetProperty("id").GetGuid();
        var approvers = new List<HttpClient>();
        for (var i = 0; i < 6; i++)
        {
            approvers.Add((await AsAsync(BaseRole.Operator)).Client);
        }

        var responses = await Task.WhenAll(approvers.Select(client => client.PostAsJsonAsync($"/api/v1/requests/{requestId}/approve", new { })));

        responses.Count(response => response.StatusCode == HttpStatusCode.OK).ShouldBe(3);
        responses.Count(response => response.StatusCode == HttpStatusCode.Conflict).ShouldBe(3);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.approvals WHERE request_id = @Id", new { Id = requestId })).ShouldBe(3);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.jobs WHERE request_id = @Id", new { Id = requestId })).ShouldBe(1);
        (await Fixture.ScalarAsync<string>("SELECT status FROM access.requests WHERE id = @Id", new { Id = requestId })).ShouldBe("approved");
    }

    [Fact]
    public async Task Agents_claiming_in_parallel_never_get_the_same_job()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        for (var i = 0; i < 24; i++)
        {
            await (await admin.PostAsJsonAsync("/api/v1/jobs", new { job_type = "discover", payload = new { n = i } })).ShouldBeJsonAsync(HttpStatusCode.Created);
        }

        var agents = new List<TestAgent>();
        for (var i = 0; i < 6; i++)
        {
            agents.Add(await MintAgentAsync($"claimer-{i}"));
        }

        var claimed = await Task.WhenAll(agents.Select(async agent =>
        {
            var mine = new List<Guid>();
            while (await agent.ClaimAsync() is { } job)
            {
                mine.Add(job.GetProperty("id").GetGuid());
            }

            return mine;
        }));

        var all = claimed.SelectMany(ids => ids).ToList();
        all.Count.ShouldBe(24);
        all.Distinct().Count().ShouldBe(24);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.jobs WHERE status = 'claimed' AND attempts = 1")).ShouldBe(24);
        agents.ForEach(agent => agent.Dispose());
    }

    [Fact]
    public async Task Simultaneous_retrievals_of_one_value_hand_it_out_once()
    {
        using var agent = await MintAgentAsync();
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var requestId = (await SubmitReadAsync(developer, ["TOKEN"])).GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, requestId);
        await agent.ClaimAsync();
        var wrapId = (await (await agent.PostValueAsync(requestId, "TOKEN", "abc"u8.ToArray())).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("wrap_id").GetGuid();

        var responses = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => developer.GetAsync($"/api/v1/requests/{requestId}/wraps/{wrapId}")));

        responses.Count(response => response.StatusCode == HttpStatusCode.OK).ShouldBe(1);
        responses.Count(response => response.StatusCode == HttpStatusCode.Gone).ShouldBe(7);
    }
}
