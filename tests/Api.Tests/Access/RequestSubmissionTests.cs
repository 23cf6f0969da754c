using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>Submitting patch and read requests: shapes, validation, project scope, policy routing, direct reveal and the
/// PROD invariant.</summary>
public sealed class RequestSubmissionTests(AccessFixture fixture) : AccessTest(fixture)
{
    public static readonly string[] RequestFields =
    [
        "id", "requester_id", "type", "justification", "status", "workflow_id", "policy_id", "project_id", "environment", "environment_id",
        "target_provider_type", "target_provider_config", "target_secret_ref", "target_keys", "target_scope", "direct_reveal", "job_id",
        "reject_reason", "expires_at", "decided_at", "completed_at", "created_at", "updated_at", "approvals",
    ];

    [Fact]
    public async Task A_patch_request_is_pending_under_the_default_workflow_and_never_echoes_its_values()
    {
        var (developer, user) = await AsAsync(BaseRole.Developer);

        var response = await developer.PostAsJsonAsync("/api/v1/requests", new
        {
            requester_id = user.Id,
            target_provider_type = "aws-sm",
            target_secret_ref = "prod/payments",
            key_values = new Dictionary<string, string> { ["B"] = "value-b-1234", ["A"] = "value-a-5678" },
            justification = "rotation",
        });

        var text = await response.Content.ReadAsStringAsync();
        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/requests/{body.GetProperty("id").GetGuid()}");
        body.PropertyNames().ShouldBe(RequestFields);
        body.GetProperty("status").GetString().ShouldBe("pending");
        body.GetProperty("workflow_id").GetString().ShouldBe(DefaultWorkflowId);
        body.GetProperty("policy_id").GetString().ShouldBe("00000000-0000-0000-0000-0000000ac002");
        body.GetProperty("target_keys").EnumerateArray().Select(key => key.GetString()).ShouldBe(["A", "B"]);
        body.GetProperty("target_scope").GetProperty("project_id").GetString().ShouldBe(string.Empty);
        body.GetProperty("approvals").GetArrayLength().ShouldBe(0);
        (body.GetProperty("expires_at").GetDateTime() - DateTime.UtcNow).TotalDays.ShouldBeInRange(13.9, 14.1);
        text.ShouldNotContain("value-a-5678");
        text.ShouldNotContain(Convert.ToBase64String(Encoding.UTF8.GetBytes("value-a-5678")));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps WHERE envelope IS NOT NULL AND origin = 'requester'")).ShouldBe(2);
        (await AuditCountAsync("wrap.create", body.GetProperty("id").GetGuid())).ShouldBe(2);
    }

    [Theory]
    [InlineData("""{"target_provider_type": "vault", "target_secret_ref": "a", "justification": "j"}""", "key_values")]
    [InlineData("""{"target_provider_type": "vault", "target_secret_ref": "a", "justification": "j", "key_values": {}}""", "key_values")]
    [InlineData("""{"target_provider_type": "vault", "target_secret_ref": "a", "justification": "j", "key_values": {" ": "v"}}""", "key_values")]
    [InlineData("""{"target_secret_ref": "a", "justification": "j", "key_values": {"K": "v"}}""", "target_provider_type")]
    [InlineData("""{"target_provider_type": "vault", "justification": "j", "key_values": {"K": "v"}}""", "target_secret_ref")]
    [InlineData("""{"target_provider_type": "vault", "target_secret_ref": "a", "key_values": {"K": "v"}}""", "justification")]
    [InlineData("""{"target_provider_type": "vault", "target_secret_ref": "a", "justification": "j", "key_values": {"K": "v"}, "target_provider_config": [1]}""", "target_provider_config")]
    [InlineData("""{"target_provider_type": "vault", "target_secret_ref": "a", "justification": "j", "key_values": {"K": "v"}, "requester_id": "00000000-0000-0000-0000-000000000001"}""", "requester_id")]
    [InlineData("""{"target_provider_type": "vault", "target_secret_ref": "a", "justification": "j", "key_values": {"K": "v"}, "project_id": "00000000-0000-0000-0000-000000000001"}""", "project_id")]
    public async Task A_patch_request_with_bad_input_is_a_400_naming_the_field(string json, string field)
    {
        var (developer, _) = await AsAsync(BaseRole.Developer);

        var response = await developer.PostAsync("/api/v1/requests", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(json);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.requests")).ShouldBe(0);
    }

    [Fact]
    public async Task Submitting_needs_secret_request()
    {
        var (viewer, _) = await AsAsync(BaseRole.Viewer);

        await (await viewer.PostAsJsonAsync("/api/v1/requests", new { })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await viewer.PostAsJsonAsync("/api/v1/requests/read", new { })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await Client.PostAsJsonAsync("/api/v1/requests", new { })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.PostAsJsonAsync("/api/v1/requests/read", new { })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_project_scoped_grant_allows_requests_in_that_project_only()
    {
        var projectId = await CreateProjectAsync();
        var otherProject = await CreateProjectAsync();
        var (viewer, user) = await AsAsync(BaseRole.Viewer);
        await GrantAsync(user, new { project_id = projectId.ToString() }, Permissions.SecretRequest);

        (await SubmitReadAsync(viewer, project: projectId)).GetProperty("project_id").GetGuid().ShouldBe(projectId);
        (await (await viewer.PostAsJsonAsync("/api/v1/requests/read", new { project_id = otherProject, target_provider_type = "vault", target_secret_ref = "a", justification = "j" }))
            .ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("error").GetString().ShouldBe("out_of_scope_project");
        await (await viewer.PostAsJsonAsync("/api/v1/requests/read", new { target_provider_type = "vault", target_secret_ref = "a", justification = "j" }))
            .ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Requests_name_an_existing_environment_of_an_active_project()
    {
        var projectId = await CreateProjectAsync();
        await CreateEnvironmentAsync(projectId, "Staging", "staging");
        var (developer, _) = await AsAsync(BaseRole.Developer);

        var body = await SubmitReadAsync(developer, project: projectId, environment: "staging");
        body.GetProperty("environment").GetString().ShouldBe("Staging");
        body.GetProperty("environment_id").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.String);
        body.GetProperty("target_scope").GetProperty("environment").GetString().ShouldBe("Staging");

        await (await developer.PostAsJsonAsync("/api/v1/requests/read", new { project_id = projectId, environment = "qa", target_provider_type = "vault", target_secret_ref = "a", justification = "j" }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        var (viewer, _) = await AsAsync(BaseRole.Viewer);
        await viewer.PutAsJsonAsync($"/api/v1/projects/{projectId}/status", new { status = "archived" });
        await (await developer.PostAsJsonAsync("/api/v1/requests/read", new { project_id = projectId, target_provider_type = "vault", target_secret_ref = "a", justification = "j" }))
            .ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Policies_route_requests_to_their_workflow_and_no_match_without_a_default_is_a_400()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var lenient = await (await admin.PostAsJsonAsync("/api/v1/workflows", new { name = "lenient", require_justification = false })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var policy = await (await admin.PostAsJsonAsync("/api/v1/policies", new
        {
            name = "dev reads",
            selector = new { operation = "read", secret_ref_prefix = "dev/" },
            workflow_id = lenient.GetProperty("id").GetGuid(),
            priority = 200,
        })).ShouldBeJsonAsync(HttpStatusCode.Created);

        var routed = await (await developer.PostAsJsonAsync("/api/v1/requests/read", new { target_provider_type = "vault", target_secret_ref = "dev/cache" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        routed.GetProperty("workflow_id").GetGuid().ShouldBe(lenient.GetProperty("id").GetGuid());
        routed.GetProperty("policy_id").GetGuid().ShouldBe(policy.GetProperty("id").GetGuid());

        await (await admin.PutAsJsonAsync("/api/v1/policies/00000000-0000-0000-0000-0000000ac002", new { enabled = false })).EnsureSuccessOrThrowAsync();
        await (await admin.PutAsJsonAsync($"/api/v1/workflows/{DefaultWorkflowId}", new { is_default = false })).EnsureSuccessOrThrowAsync();
        var refused = await (await developer.PostAsJsonAsync("/api/v1/requests/read", new { target_provider_type = "vault", target_secret_ref = "prod/db", justification = "j" }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        refused.GetProperty("message").GetString().ShouldBe("no policy matched and no default workflow exists");
    }

    [Fact]
    public async Task A_read_request_lists_its_keys_once_each_and_has_no_wraps()
    {
        var (developer, _) = await AsAsync(BaseRole.Developer);

        var body = await SubmitReadAsync(developer, ["b", "a", "b"]);

        body.PropertyNames().ShouldBe(RequestFields);
        body.GetProperty("type").GetString().ShouldBe("read");
        body.GetProperty("target_keys").EnumerateArray().Select(key => key.GetString()).ShouldBe(["a", "b"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps")).ShouldBe(0);
        await (await developer.PostAsJsonAsync("/api/v1/requests/read", new { target_provider_type = "vault", target_secret_ref = "a", justification = "j", target_keys = new[] { "" } }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_direct_reveal_skips_the_vote_in_non_prod_where_the_policy_allows_it()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (operatorClient, _) = await AsAsync(BaseRole.Operator);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var projectId = await CreateProjectAsync();
        await CreateEnvironmentAsync(projectId, "dev", "dev");
        await CreateEnvironmentAsync(projectId, "prod", "prod");
        await (await admin.PostAsJsonAsync("/api/v1/policies", new
        {
            name = "self-service",
            selector = new { project_id = projectId.ToString() },
            workflow_id = DefaultWorkflowId,
            priority = 300,
            direct_reveal_allowed = true,
        })).ShouldBeJsonAsync(HttpStatusCode.Created);

        var revealed = await (await operatorClient.PostAsJsonAsync("/api/v1/requests/read", new
        {
            project_id = projectId,
            environment = "dev",
            target_provider_type = "vault",
            target_secret_ref = "dev/db",
            justification = "j",
            direct_reveal = true,
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        revealed.GetProperty("status").GetString().ShouldBe("approved");
        revealed.GetProperty("direct_reveal").GetBoolean().ShouldBeTrue();
        revealed.GetProperty("job_id").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.String);
        (await AuditCountAsync("secret.reveal.direct.issued")).ShouldBe(1);

        var prod = await (await operatorClient.PostAsJsonAsync("/api/v1/requests/read", new
        {
            project_id = projectId,
            environment = "prod",
            target_provider_type = "vault",
            target_secret_ref = "prod/db",
            justification = "j",
            direct_reveal = true,
        })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        prod.GetProperty("error").GetString().ShouldBe("direct_reveal_refused_prod");
        (await AuditCountAsync("secret.reveal.direct.refused_prod")).ShouldBe(1, "the refusal is audited although the request rolled back");

        await (await developer.PostAsJsonAsync("/api/v1/requests/read", new
        {
            project_id = projectId,
            environment = "dev",
            target_provider_type = "vault",
            target_secret_ref = "dev/db",
            justification = "j",
            direct_reveal = true,
        })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        await (await operatorClient.PostAsJsonAsync("/api/v1/requests/read", new { target_provider_type = "vault", target_secret_ref = "x", justification = "j", direct_reveal = true }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task The_prod_invariant_zeroes_a_rules_direct_reveal_on_prod_environments_and_audits_it()
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var (developer, _) = await AsAsync(BaseRole.Developer);
        var projectId = await CreateProjectAsync();
        await CreateEnvironmentAsync(projectId, "live", "prod");
        await (await admin.PostAsJsonAsync("/api/v1/policies", new
        {
            name = "too generous",
            selector = new { project_id = projectId.ToString() },
            workflow_id = DefaultWorkflowId,
            priority = 300,
            direct_reveal_allowed = true,
        })).ShouldBeJsonAsync(HttpStatusCode.Created);

        var body = await SubmitReadAsync(developer, project: projectId, environment: "live");

        body.GetProperty("status").GetString().ShouldBe("pending");
        (await Fixture.ScalarAsync<string>("SELECT metadata ->> 'reason' FROM identity.audit_log WHERE action = 'policy.invariant.violated'")).ShouldBe("direct_reveal_on_prod_env_zeroed");
        (await Fixture.ScalarAsync<string>("SELECT actor_type FROM identity.audit_log WHERE action = 'policy.invariant.violated'")).ShouldBe("system");
    }
}

internal static class ResponseChecks
{
    public static async Task EnsureSuccessOrThrowAsync(this HttpResponseMessage response)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException($"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        }
    }
}
