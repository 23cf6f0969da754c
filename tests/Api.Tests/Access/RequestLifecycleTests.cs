using System.Net;
using System.Net.Http.Json;
using Capstan.Features.Access;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Access;

/// <summary>Reading requests and moving them through the state machine: approve, reject, cancel, expire.</summary>
public sealed class RequestLifecycleTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task Requesters_see_their_own_requests_and_approvers_see_all()
    {
        var (alice, aliceUser) = await AsAsync(BaseRole.Developer);
        var (bob, _) = await AsAsync(BaseRole.Developer);
        var (approver, _) = await AsAsync(BaseRole.Operator);
        var mine = (await SubmitPatchAsync(alice, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();
        var read = (await SubmitReadAsync(alice)).GetProperty("id").GetGuid();
        var theirs = (await SubmitReadAsync(bob)).GetProperty("id").GetGuid();

        var aliceList = await (await alice.GetAsync("/api/v1/requests")).ShouldBeJsonAsync();
        aliceList.EnumerateArray().Select(row => row.GetProperty("id").GetGuid()).ShouldBe([read, mine], "newest first, own only");
        aliceList[0].PropertyNames().ShouldBe(RequestSubmissionTests.RequestFields);
        (await (await approver.GetAsync("/api/v1/requests")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(3);
        (await (await approver.GetAsync("/api/v1/requests?type=patch&status=pending")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1);
        (await (await alice.GetAsync($"/api/v1/requests?requester_id={aliceUser.Id}&limit=1")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1);

        await (await alice.GetAsync($"/api/v1/requests?requester_id={Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await alice.GetAsync("/api/v1/requests?status=done")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await alice.GetAsync("/api/v1/requests?limit=0")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await alice.GetAsync($"/api/v1/requests/{theirs}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await alice.GetAsync($"/api/v1/requests/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await alice.GetAsync("/api/v1/requests/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await Client.GetAsync("/api/v1/requests")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync($"/api/v1/requests/{mine}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await (await approver.GetAsync($"/api/v1/requests/{theirs}")).ShouldBeJsonAsync()).GetProperty("id").GetGuid().ShouldBe(theirs);
    }

    [Fact]
    public async Task A_project_scoped_approver_sees_and_decides_that_projects_requests_only()
    {
        var inScope = await CreateProjectAsync();
        var outOfScope = await CreateProjectAsync();
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (scoped, scopedUser) = await AsAsync(BaseRole.Viewer);
        await GrantAsync(scopedUser, new { project_id = inScope.ToString() }, Permissions.SecretApprove);
        var visible = (await SubmitReadAsync(developer, project: inScope)).GetProperty("id").GetGuid();
        var hidden = (await SubmitReadAsync(developer, project: outOfScope)).GetProperty("id").GetGuid();
        await SubmitReadAsync(developer);

        (await (await scoped.GetAsync("/api/v1/requests")).ShouldBeJsonAsync()).EnumerateArray().Select(row => row.GetProperty("id").GetGuid()).ShouldBe([visible]);
        (await ApproveAsync(scoped, visible)).GetProperty("status").GetString().ShouldBe("approved");
        await ApproveAsync(scoped, hidden, HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Approval_needs_another_user_holding_secret_approve_and_one_vote_each()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (operatorClient, operatorUser) = await AsAsync(BaseRole.Operator);
        var (second, _) = await AsAsync(BaseRole.Operator);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var workflow = await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "two", min_approvers = 2 })).ShouldBeJsonAsync(HttpStatusCode.Created);
        await admin.PostAsJsonAsync("/api/v1/policies", new { name = "two for billing", selector = new { secret_ref_prefix = "billing/" }, workflow_id = workflow.GetProperty("id").GetGuid() });
        var own = (await SubmitPatchAsync(operatorClient, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" }, secretRef: "billing/stripe")).GetProperty("id").GetGuid();

        (await ApproveAsync(operatorClient, own, HttpStatusCode.Forbidden)).GetProperty("message").GetString().ShouldBe("requester cannot approve or reject their own request");
        await ApproveAsync(developer, requestId, HttpStatusCode.Forbidden);
        await ApproveAsync(Client, requestId, HttpStatusCode.Unauthorized);
        await (await operatorClient.PostAsJsonAsync($"/api/v1/requests/{requestId}/approve", new { approver_id = Guid.NewGuid() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var first = await (await operatorClient.PostAsJsonAsync($"/api/v1/requests/{requestId}/approve", new { approver_id = operatorUser.Id, comment = "lgtm" })).ShouldBeJsonAsync();
        first.GetProperty("status").GetString().ShouldBe("pending");
        first.GetProperty("approvals")[0].PropertyNames().ShouldBe(["id", "approver_id", "decision", "comment", "created_at"]);
        first.GetProperty("approvals")[0].GetProperty("comment").GetString().ShouldBe("lgtm");
        (await ApproveAsync(operatorClient, requestId, HttpStatusCode.Conflict)).GetProperty("message").GetString().ShouldBe("approver has already voted on this request");

        var decided = await ApproveAsync(second, requestId);
        decided.GetProperty("status").GetString().ShouldBe("approved");
        decided.GetProperty("approvals").GetArrayLength().ShouldBe(2);
        await ApproveAsync(admin, requestId, HttpStatusCode.Conflict);
        await ApproveAsync(second, Guid.NewGuid(), HttpStatusCode.NotFound);
        (await Fixture.ScalarAsync<string>("SELECT metadata ->> 'became_approved' FROM identity.audit_log WHERE action = 'request.approve' ORDER BY occurred_at DESC LIMIT 1")).ShouldBe("true");
    }

    [Fact]
    public async Task A_workflow_may_allow_self_approval_or_require_an_approver_role()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (operatorClient, operatorUser) = await AsAsync(BaseRole.Operator);
        var selfService = await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "self", allow_self_approval = true })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var guarded = await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "guarded", approver_role_id = "00000000-0000-0000-0000-00000000a002" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        await admin.PostAsJsonAsync("/api/v1/policies", new { name = "sandbox", selector = new { secret_ref_prefix = "sandbox/" }, workflow_id = selfService.GetProperty("id").GetGuid() });
        await admin.PostAsJsonAsync("/api/v1/policies", new { name = "vault", selector = new { secret_ref_prefix = "vault/" }, workflow_id = guarded.GetProperty("id").GetGuid() });
        var (developer, _) = await AsAsync(BaseRole.Developer);

        var own = (await SubmitPatchAsync(operatorClient, new Dictionary<string, string> { ["K"] = "v" }, secretRef: "sandbox/x")).GetProperty("id").GetGuid();
        (await ApproveAsync(operatorClient, own)).GetProperty("status").GetString().ShouldBe("approved");

        var roleGated = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" }, secretRef: "vault/x")).GetProperty("id").GetGuid();
        await ApproveAsync(operatorClient, roleGated, HttpStatusCode.Forbidden);
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.user_roles (id, user_id, role_id) VALUES (@Id, @UserId, '00000000-0000-0000-0000-00000000a002')",
            new { Id = Guid.CreateVersion7(), UserId = operatorUser.Id });
        (await ApproveAsync(operatorClient, roleGated)).GetProperty("status").GetString().ShouldBe("approved");
    }

    [Fact]
    public async Task One_reject_vote_rejects_at_once_and_needs_a_reason()
    {
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();

        (await (await operatorClient.PostAsJsonAsync($"/api/v1/requests/{requestId}/reject", new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("reason", out _).ShouldBeTrue();
        await (await developer.PostAsJsonAsync($"/api/v1/requests/{requestId}/reject", new { reason = "no" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.PostAsJsonAsync($"/api/v1/requests/{requestId}/reject", new { reason = "no" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

        var rejected = await (await operatorClient.PostAsJsonAsync($"/api/v1/requests/{requestId}/reject", new { reason = "use the staging secret" })).ShouldBeJsonAsync();

        rejected.GetProperty("status").GetString().ShouldBe("rejected");
        rejected.GetProperty("reject_reason").GetString().ShouldBe("use the staging secret");
        rejected.GetProperty("approvals")[0].GetProperty("decision").GetString().ShouldBe("reject");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps WHERE envelope IS NOT NULL")).ShouldBe(0, "a rejected request's values are erased");
        await (await operatorClient.PostAsJsonAsync($"/api/v1/requests/{requestId}/reject", new { reason = "again" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await operatorClient.PostAsJsonAsync($"/api/v1/requests/{Guid.NewGuid()}/reject", new { reason = "x" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await AuditCountAsync("request.reject", requestId)).ShouldBe(1);
    }

    [Fact]
    public async Task Only_the_requester_cancels_a_pending_request()
    {
        var (developer, user) = await AsAsync(BaseRole.Developer);
        var (other, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var requestId = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();

        await (await other.PostAsync($"/api/v1/requests/{requestId}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await operatorClient.PostAsync($"/api/v1/requests/{requestId}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden))
            .GetProperty("message").GetString().ShouldBe("only the original requester can cancel");
        await (await developer.PostAsJsonAsync($"/api/v1/requests/{requestId}/cancel", new { actor_id = Guid.NewGuid() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await Client.PostAsync($"/api/v1/requests/{requestId}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

        var cancelled = await (await developer.PostAsJsonAsync($"/api/v1/requests/{requestId}/cancel", new { actor_id = $"user:{user.Id}" })).ShouldBeJsonAsync();

        cancelled.GetProperty("status").GetString().ShouldBe("cancelled");
        await (await developer.PostAsync($"/api/v1/requests/{requestId}/cancel", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await ApproveAsync(operatorClient, requestId, HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Pending_requests_expire_after_their_workflows_request_ttl()
    {
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var stale = (await SubmitPatchAsync(developer, new Dictionary<string, string> { ["K"] = "v" })).GetProperty("id").GetGuid();
        var fresh = (await SubmitReadAsync(developer)).GetProperty("id").GetGuid();
        await Fixture.ExecuteAsync("UPDATE access.requests SET expires_at = now() - interval '1 minute' WHERE id = @Id", new { Id = stale });

        await ApproveAsync(operatorClient, stale, HttpStatusCode.Conflict);
        (await Fixture.Services.GetRequiredService<AccessMaintenance>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        (await (await developer.GetAsync($"/api/v1/requests/{stale}")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("expired");
        (await (await developer.GetAsync($"/api/v1/requests/{fresh}")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("pending");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps WHERE envelope IS NOT NULL")).ShouldBe(0);
        (await Fixture.ScalarAsync<string>("SELECT actor_name FROM identity.audit_log WHERE correlation_id = @Id AND action = 'request.transition'", new { Id = stale }))
            .ShouldBe("system:request-expiry");
    }
}
