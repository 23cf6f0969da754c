using System.Text.Json;
using Capstan.Features.Access.Policies;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Access.Policies;

/// <summary>The policy read slices (one, all in evaluation order) and the partial update with its selector checks and
/// the PROD invariant, through the real pipeline.</summary>
public sealed class PolicyReadAndUpdateHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    private static readonly Guid DefaultWorkflow = Guid.Parse("00000000-0000-0000-0000-0000000ac001");
    private static readonly Guid SystemPolicy = Guid.Parse("00000000-0000-0000-0000-0000000ac002");

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    private static UpdatePolicy.Body Changes(
        string? name = null, JsonElement? selector = null, Guid? workflowId = null, long? priority = null, bool? enabled = null, bool? directReveal = null) =>
        new(name, selector, workflowId, priority, enabled, directReveal);

    private async Task<PolicyBody> CreateAsync(TestUser admin, string name, long? priority = null, string selector = "{}", bool? directReveal = null) =>
        await SendAsync(CallerOf(admin), new CreatePolicy.Command(name, Json(selector), DefaultWorkflow, priority, null, directReveal));

    private async Task<Guid> WorkflowAsync(string name)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync("INSERT INTO access.workflows (id, name) VALUES (@Id, @Name)", new { Id = id, Name = name });
        return id;
    }

    private Task<string?> StoredAsync(Guid id) =>
        Fixture.ScalarAsync<string>("SELECT name || '|' || selector::text || '|' || priority || '|' || enabled || '|' || direct_reveal_allowed FROM access.policies WHERE id = @Id", new { Id = id });

    [Fact]
    public async Task The_seeded_match_all_policy_is_read_by_a_viewer()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var policy = await SendAsync(CallerOf(viewer), new GetPolicy.Query(SystemPolicy));

        policy.Id.ShouldBe(SystemPolicy);
        policy.Name.ShouldBe("match-all (system default)");
        policy.Selector.EnumerateObject().ShouldBeEmpty();
        policy.WorkflowId.ShouldBe(DefaultWorkflow);
        policy.Priority.ShouldBe(0);
        policy.Enabled.ShouldBeTrue();
        policy.IsSystem.ShouldBeTrue();
        policy.DirectRevealAllowed.ShouldBeFalse();
    }

    [Fact]
    public async Task A_created_policy_is_read_back_with_its_selector_and_an_unknown_or_empty_id_is_refused()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var created = await CreateAsync(admin, "staging reveals", 50, """{"environment": "staging", "provider_type": "vault"}""", true);

        var policy = await SendAsync(CallerOf(viewer), new GetPolicy.Query(created.Id));

        policy.Name.ShouldBe("staging reveals");
        policy.Priority.ShouldBe(50);
        policy.DirectRevealAllowed.ShouldBeTrue();
        policy.IsSystem.ShouldBeFalse();
        policy.Selector.GetProperty("environment").GetString().ShouldBe("staging");
        policy.Selector.GetProperty("provider_type").GetString().ShouldBe("vault");
        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(viewer), new GetPolicy.Query(Guid.CreateVersion7())))).Message.ShouldBe("policy not found");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(viewer), new GetPolicy.Query(Guid.Empty))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["id"]);
    }

    [Fact]
    public async Task Policies_are_listed_highest_priority_first_then_oldest_first()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var low = await CreateAsync(admin, "low", -5);
        var firstHigh = await CreateAsync(admin, "first high", 100);
        var middle = await CreateAsync(admin, "middle", 50);
        var secondHigh = await CreateAsync(admin, "second high", 100);
        await Fixture.ExecuteAsync("UPDATE access.policies SET created_at = now() - interval '1 hour' WHERE id = @Id", new { secondHigh.Id });

        var policies = await SendAsync(CallerOf(viewer), new ListPolicies.Query());

        policies.Select(policy => policy.Id).ShouldBe([secondHigh.Id, firstHigh.Id, middle.Id, SystemPolicy, low.Id], "on a tie the older rule comes first, whatever its id");
        policies.Select(policy => policy.Priority).ShouldBe([100L, 100L, 50L, 0L, -5L]);
        policies.Single(policy => policy.Id == SystemPolicy).IsSystem.ShouldBeTrue();
    }

    [Fact]
    public async Task Update_changes_only_the_fields_sent_and_audits()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var policy = await CreateAsync(admin, "rule", 10, """{"environment": "dev"}""");
        var workflow = await WorkflowAsync("two approvers");

        await SendAsync(CallerOf(admin), new UpdatePolicy.Command(policy.Id, Changes(name: "  renamed  ", priority: 20)));
        var renamed = await StoredAsync(policy.Id);
        await SendAsync(CallerOf(admin), new UpdatePolicy.Command(policy.Id, Changes(selector: Json("""{"environment_kind": "non_prod"}"""), workflowId: workflow, enabled: false, directReveal: true)));

        renamed.ShouldBe("""renamed|{"environment": "dev"}|20|true|false""");
        (await StoredAsync(policy.Id)).ShouldBe("""renamed|{"environment_kind": "non_prod"}|20|false|true""");
        var updated = await SendAsync(CallerOf(admin), new GetPolicy.Query(policy.Id));
        updated.WorkflowId.ShouldBe(workflow);
        updated.UpdatedAt.ShouldBeGreaterThan(policy.UpdatedAt);
        var audits = await Fixture.QueryAsync<(Guid ActorId, string ResourceName, string Metadata)>(
            "SELECT actor_id, resource_name, metadata::text FROM identity.audit_log WHERE action = 'policy.update' AND resource_id = @Id ORDER BY occurred_at, id",
            new { Id = policy.Id.ToString() });
        audits.Count.ShouldBe(2);
        audits.ShouldAllBe(audit => audit.ActorId == admin.Id && audit.ResourceName == "renamed");
        audits[1].Metadata.ShouldContain(workflow.ToString());
    }

    [Fact]
    public async Task A_null_selector_keeps_the_current_one()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var policy = await CreateAsync(admin, "rule", 10, """{"environment": "dev"}""");

        await SendAsync(CallerOf(admin), new UpdatePolicy.Command(policy.Id, Changes(selector: Json("null"), priority: 11)));

        (await StoredAsync(policy.Id)).ShouldBe("""rule|{"environment": "dev"}|11|true|false""");
    }

    [Fact]
    public async Task Update_keeps_the_prod_invariant_whichever_side_changes()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var prodRule = await CreateAsync(admin, "prod", 10, """{"environment_kind": "prod"}""");
        var revealing = await CreateAsync(admin, "reveals", 10, """{"environment": "dev"}""", true);

        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(CallerOf(admin), new UpdatePolicy.Command(prodRule.Id, Changes(directReveal: true)))))
            .Details!.Keys.ShouldBe(["direct_reveal_allowed"]);
        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(CallerOf(admin), new UpdatePolicy.Command(revealing.Id, Changes(name: "x", selector: Json("""{"environment_kind": "prod"}"""))))))
            .Message.ShouldBe("direct reveal is never allowed on prod environments");

        (await StoredAsync(prodRule.Id)).ShouldBe("""prod|{"environment_kind": "prod"}|10|true|false""");
        (await StoredAsync(revealing.Id)).ShouldBe("""reveals|{"environment": "dev"}|10|true|true""");
        await SendAsync(CallerOf(admin), new UpdatePolicy.Command(revealing.Id, Changes(selector: Json("""{"environment_kind": "prod"}"""), directReveal: false)));
        (await StoredAsync(revealing.Id)).ShouldBe("""reveals|{"environment_kind": "prod"}|10|true|false""");
    }

    [Fact]
    public async Task Update_refuses_an_unknown_workflow_and_an_unknown_policy()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var policy = await CreateAsync(admin, "rule", 10);

        (await Should.ThrowAsync<BadRequestException>(() => SendAsync(CallerOf(admin), new UpdatePolicy.Command(policy.Id, Changes(workflowId: Guid.CreateVersion7())))))
            .Details!.Keys.ShouldBe(["workflow_id"]);
        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(admin), new UpdatePolicy.Command(Guid.CreateVersion7(), Changes(name: "x"))))).Message.ShouldBe("policy not found");
        (await SendAsync(CallerOf(admin), new GetPolicy.Query(policy.Id))).WorkflowId.ShouldBe(DefaultWorkflow);
    }

    [Theory]
    [InlineData("   ", null, null, "name")]
    [InlineData(null, 1_000_001L, null, "priority")]
    [InlineData(null, -1_000_001L, null, "priority")]
    [InlineData(null, null, """{"cluster": "eu"}""", "selector")]
    [InlineData(null, null, """{"environment": 3}""", "selector")]
    [InlineData(null, null, "[]", "selector")]
    public async Task The_update_validator_names_each_bad_field_and_nothing_changes(string? name, long? priority, string? selector, string field)
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var policy = await CreateAsync(admin, "rule", 10);

        var failure = await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(admin), new UpdatePolicy.Command(
            policy.Id, Changes(name: name, priority: priority, selector: selector is null ? null : Json(selector)))));

        failure.Errors.Select(error => error.PropertyName).ShouldBe([field]);
        (await StoredAsync(policy.Id)).ShouldBe("rule|{}|10|true|false");
    }

    [Fact]
    public async Task The_name_may_be_two_hundred_characters_but_not_more()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var policy = await CreateAsync(admin, "rule", 10);

        await SendAsync(CallerOf(admin), new UpdatePolicy.Command(policy.Id, Changes(name: new string('n', 200))));
        await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(admin), new UpdatePolicy.Command(policy.Id, Changes(name: new string('n', 201)))));

        (await SendAsync(CallerOf(admin), new GetPolicy.Query(policy.Id))).Name.ShouldBe(new string('n', 200));
    }
}
