using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>Approval workflows and policy rules: CRUD with their permissions, one default, system rows, the PROD
/// invariant on rules.</summary>
public sealed class WorkflowAndPolicyTests(AccessFixture fixture) : AccessTest(fixture)
{
    private const string SystemPolicyId = "00000000-0000-0000-0000-0000000ac002";

    public static readonly string[] WorkflowFields =
    [
        "id", "name", "description", "min_approvers", "approver_role_id", "wrap_ttl_created_seconds", "wrap_ttl_approved_seconds",
        "wrap_ttl_claimed_seconds", "request_ttl_seconds", "require_justification", "allow_self_approval", "notification_channels",
        "is_default", "enabled", "is_system", "created_at", "updated_at",
    ];

    [Fact]
    public async Task A_workflow_is_created_with_the_standard_defaults()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);

        var body = await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "payments", notification_channels = new[] { "#sec" } })).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.PropertyNames().ShouldBe(WorkflowFields);
        body.GetProperty("min_approvers").GetInt64().ShouldBe(1);
        body.GetProperty("wrap_ttl_created_seconds").GetInt64().ShouldBe(604800);
        body.GetProperty("wrap_ttl_approved_seconds").GetInt64().ShouldBe(3600);
        body.GetProperty("wrap_ttl_claimed_seconds").GetInt64().ShouldBe(300);
        body.GetProperty("request_ttl_seconds").GetInt64().ShouldBe(1209600);
        body.GetProperty("enabled").GetBoolean().ShouldBeTrue();
        body.GetProperty("is_default").GetBoolean().ShouldBeFalse();
        body.GetProperty("notification_channels")[0].GetString().ShouldBe("#sec");
        var listed = await (await admin.GetAsync("/api/v1/workflows")).ShouldBeJsonAsync();
        listed.EnumerateArray().Select(row => row.GetProperty("name").GetString()).ShouldBe(["payments", "standard"]);
        var standard = await (await admin.GetAsync($"/api/v1/workflows/{DefaultWorkflowId}")).ShouldBeJsonAsync();
        standard.GetProperty("is_default").GetBoolean().ShouldBeTrue();
        standard.GetProperty("is_system").GetBoolean().ShouldBeTrue();
    }

    [Theory]
    [InlineData("""{}""", "name")]
    [InlineData("""{"name": "w", "wrap_ttl_approved_seconds": 0}""", "wrap_ttl_approved_seconds")]
    [InlineData("""{"name": "w", "request_ttl_seconds": -5}""", "request_ttl_seconds")]
    [InlineData("""{"name": "w", "min_approvers": -1}""", "min_approvers")]
    [InlineData("""{"name": "w", "approver_role_id": "00000000-0000-0000-0000-000000000009"}""", "approver_role_id")]
    [InlineData("""{"name": "w", "notification_channels": [""]}""", "notification_channels")]
    public async Task Bad_workflows_are_a_400_naming_the_field(string json, string field)
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/workflows", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(json);
    }

    [Fact]
    public async Task Names_are_unique_and_there_is_one_default()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var other = await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "other" })).ShouldBeJsonAsync(HttpStatusCode.Created);

        await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "other" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "second default", is_default = true })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await admin.PutAsJsonAsync($"/api/v1/workflows/{other.GetProperty("id").GetGuid()}", new { is_default = true })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await admin.PutAsJsonAsync($"/api/v1/workflows/{other.GetProperty("id").GetGuid()}", new { name = "standard" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);

        (await admin.PutAsJsonAsync($"/api/v1/workflows/{DefaultWorkflowId}", new { is_default = false })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await admin.PutAsJsonAsync($"/api/v1/workflows/{other.GetProperty("id").GetGuid()}", new { is_default = true })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await (await admin.GetAsync($"/api/v1/workflows/{other.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync()).GetProperty("is_default").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task Update_changes_only_what_is_sent_and_keeps_ttls_positive()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var id = (await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "w", description = "before", min_approvers = 2 })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("id").GetGuid();

        (await admin.PutAsJsonAsync($"/api/v1/workflows/{id}", new { description = "after", request_ttl_seconds = 60, approver_role_id = "00000000-0000-0000-0000-00000000a002" }))
            .StatusCode.ShouldBe(HttpStatusCode.NoContent);

        var body = await (await admin.GetAsync($"/api/v1/workflows/{id}")).ShouldBeJsonAsync();
        body.GetProperty("description").GetString().ShouldBe("after");
        body.GetProperty("min_approvers").GetInt64().ShouldBe(2);
        body.GetProperty("request_ttl_seconds").GetInt64().ShouldBe(60);
        body.GetProperty("approver_role_id").GetString().ShouldBe("00000000-0000-0000-0000-00000000a002");
        await (await admin.PutAsJsonAsync($"/api/v1/workflows/{id}", new { wrap_ttl_claimed_seconds = 0 })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await admin.PutAsJsonAsync($"/api/v1/workflows/{id}", new { approver_role_id = "nope" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await admin.PutAsJsonAsync($"/api/v1/workflows/{Guid.NewGuid()}", new { description = "x" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await admin.PutAsJsonAsync($"/api/v1/workflows/{id}", new { approver_role_id = (string?)null })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await (await admin.GetAsync($"/api/v1/workflows/{id}")).ShouldBeJsonAsync()).GetProperty("approver_role_id").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task Delete_refuses_system_and_used_workflows_and_takes_its_rules_along()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var unused = (await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "unused" })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        var used = (await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "used" })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await admin.PostAsJsonAsync("/api/v1/policies", new { name = "to unused", workflow_id = unused, selector = new { provider_type = "gcp-sm" } });
        await admin.PostAsJsonAsync("/api/v1/policies", new { name = "to used", workflow_id = used, selector = new { provider_type = "vault" }, priority = 900 });
        await SubmitReadAsync(developer);

        (await (await admin.DeleteAsync($"/api/v1/workflows/{DefaultWorkflowId}")).ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString()
            .ShouldBe("system row cannot be deleted (edit instead)");
        await (await admin.DeleteAsync($"/api/v1/workflows/{used}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        (await admin.DeleteAsync($"/api/v1/workflows/{unused}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.policies WHERE name = 'to unused'")).ShouldBe(0);
        await (await admin.DeleteAsync($"/api/v1/workflows/{unused}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.GetAsync($"/api/v1/workflows/{unused}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.GetAsync("/api/v1/workflows/nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Workflow_and_policy_changes_need_their_permissions()
    {
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var (viewer, _) = await AsAsync(BaseRole.Viewer);

        await (await operatorClient.PostAsJsonAsync("/api/v1/workflows", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PutAsJsonAsync($"/api/v1/workflows/{DefaultWorkflowId}", new { })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.DeleteAsync($"/api/v1/workflows/{DefaultWorkflowId}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PostAsJsonAsync("/api/v1/policies", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PutAsJsonAsync($"/api/v1/policies/{SystemPolicyId}", new { })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.DeleteAsync($"/api/v1/policies/{SystemPolicyId}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        foreach (var path in new[] { "/api/v1/workflows", $"/api/v1/workflows/{DefaultWorkflowId}", "/api/v1/policies", $"/api/v1/policies/{SystemPolicyId}" })
        {
            (await viewer.GetAsync(path)).StatusCode.ShouldBe(HttpStatusCode.OK, path);
            await (await Client.GetAsync(path)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        }

        await (await Client.PostAsJsonAsync("/api/v1/workflows", new { })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.PostAsJsonAsync("/api/v1/policies", new { })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_policy_rule_is_created_listed_in_evaluation_order_updated_and_deleted()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);

        var created = await (await admin.PostAsJsonAsync("/api/v1/policies", new
        {
            name = "staging",
            selector = new { environment_kind = "non_prod", secret_ref_prefix = "stg/" },
            workflow_id = DefaultWorkflowId,
            priority = 50,
            direct_reveal_allowed = true,
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        created.PropertyNames().ShouldBe(["id", "name", "selector", "workflow_id", "priority", "enabled", "is_system", "direct_reveal_allowed", "created_at", "updated_at"]);
        created.GetProperty("enabled").GetBoolean().ShouldBeTrue();
        created.GetProperty("selector").GetProperty("secret_ref_prefix").GetString().ShouldBe("stg/");
        var id = created.GetProperty("id").GetGuid();

        var listed = await (await admin.GetAsync("/api/v1/policies")).ShouldBeJsonAsync();
        listed.EnumerateArray().Select(row => row.GetProperty("name").GetString()).ShouldBe(["staging", "match-all (system default)"]);

        (await admin.PutAsJsonAsync($"/api/v1/policies/{id}", new { priority = -1, enabled = false })).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var updated = await (await admin.GetAsync($"/api/v1/policies/{id}")).ShouldBeJsonAsync();
        updated.GetProperty("priority").GetInt64().ShouldBe(-1);
        updated.GetProperty("enabled").GetBoolean().ShouldBeFalse();
        updated.GetProperty("selector").GetProperty("environment_kind").GetString().ShouldBe("non_prod");
        await (await admin.PutAsJsonAsync($"/api/v1/policies/{id}", new { workflow_id = Guid.NewGuid() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await admin.PutAsJsonAsync($"/api/v1/policies/{Guid.NewGuid()}", new { priority = 1 })).ShouldBeErrorAsync(HttpStatusCode.NotFound);

        (await admin.DeleteAsync($"/api/v1/policies/{id}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        await (await admin.GetAsync($"/api/v1/policies/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync($"/api/v1/policies/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync($"/api/v1/policies/{SystemPolicyId}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await admin.GetAsync("/api/v1/policies/nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("""{"workflow_id": "00000000-0000-0000-0000-0000000ac001"}""", "name")]
    [InlineData("""{"name": "p"}""", "workflow_id")]
    [InlineData("""{"name": "p", "workflow_id": "00000000-0000-0000-0000-000000000009"}""", "workflow_id")]
    [InlineData("""{"name": "p", "workflow_id": "00000000-0000-0000-0000-0000000ac001", "selector": {"team": "x"}}""", "selector")]
    [InlineData("""{"name": "p", "workflow_id": "00000000-0000-0000-0000-0000000ac001", "selector": {"environment": 3}}""", "selector")]
    [InlineData("""{"name": "p", "workflow_id": "00000000-0000-0000-0000-0000000ac001", "selector": {"environment_kind": "prod"}, "direct_reveal_allowed": true}""", "direct_reveal_allowed")]
    public async Task Bad_policy_rules_are_a_400_naming_the_field(string json, string field)
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);

        var response = await admin.PostAsync("/api/v1/policies", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(json);
    }

    [Fact]
    public async Task A_rule_cannot_be_edited_into_allowing_direct_reveal_on_prod()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var id = (await (await admin.PostAsJsonAsync("/api/v1/policies", new { name = "prod", selector = new { environment_kind = "prod" }, workflow_id = DefaultWorkflowId }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        await (await admin.PutAsJsonAsync($"/api/v1/policies/{id}", new { direct_reveal_allowed = true })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }
}
