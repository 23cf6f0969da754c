using Capstan.Features.Access.Requests;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access;

/// <summary>Policy evaluation (secrets-bridge §7): selector matching, ordering, fallbacks and the PROD invariant.</summary>
public sealed class PolicyEngineTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    private const string DefaultWorkflow = "00000000-0000-0000-0000-0000000ac001";

    private static readonly Dictionary<string, string> Scope = new()
    {
        ["project_id"] = "p1",
        ["environment"] = "prod",
        ["environment_kind"] = "prod",
        ["operation"] = "read",
        ["provider_type"] = "vault",
        ["secret_ref_prefix"] = "payments/db",
    };

    [Theory]
    [InlineData("{}", true)]
    [InlineData("""{"project_id": "p1"}""", true)]
    [InlineData("""{"project_id": "p2"}""", false)]
    [InlineData("""{"project_id": "p1", "operation": "read"}""", true)]
    [InlineData("""{"project_id": "p1", "operation": "patch"}""", false)]
    [InlineData("""{"secret_ref_prefix": "payments/"}""", true)]
    [InlineData("""{"secret_ref_prefix": "payments/db"}""", true)]
    [InlineData("""{"secret_ref_prefix": "billing/"}""", false)]
    [InlineData("""{"secret_ref_prefix": ""}""", false)]
    [InlineData("""{"environment": "PROD"}""", false)]
    [InlineData("""{"team": "x"}""", false)]
    [InlineData("""{"project_id": 1}""", false)]
    [InlineData("""[]""", false)]
    public void A_selector_matches_when_every_key_is_in_the_scope_and_equal(string selector, bool matches) =>
        PolicyEngine.Matches(selector, Scope).ShouldBe(matches);

    [Fact]
    public void A_selector_key_missing_from_the_scope_never_matches() =>
        PolicyEngine.Matches("""{"environment": "dev"}""", new Dictionary<string, string> { ["operation"] = "read" }).ShouldBeFalse();

    [Fact]
    public async Task The_highest_priority_match_wins_and_ties_go_to_the_oldest_rule()
    {
        var low = await WorkflowAsync("low");
        var high = await WorkflowAsync("high");
        var tie = await WorkflowAsync("tie");
        await RuleAsync("low", """{"provider_type": "vault"}""", low, 10);
        var winner = await RuleAsync("high", """{"operation": "read"}""", high, 50);
        await RuleAsync("tie", """{"operation": "read"}""", tie, 50);

        var decision = await ResolveAsync(new PolicyScope(null, null, null, "read", "vault", "x"));

        decision.Workflow.Id.ShouldBe(high);
        decision.PolicyId.ShouldBe(winner);
    }

    [Fact]
    public async Task Rules_whose_workflow_is_disabled_are_passed_over_and_the_default_catches_the_rest()
    {
        var disabled = await WorkflowAsync("off", enabled: false);
        await RuleAsync("off", "{}", disabled, 999);
        await Fixture.ExecuteAsync("UPDATE access.policies SET enabled = false WHERE is_system");

        var decision = await ResolveAsync(new PolicyScope(null, null, null, "patch", "vault", "x"));

        decision.Workflow.Id.ShouldBe(Guid.Parse(DefaultWorkflow));
        decision.PolicyId.ShouldBeNull();
    }

    [Fact]
    public async Task No_match_and_no_default_is_a_400()
    {
        await Fixture.ExecuteAsync("UPDATE access.policies SET enabled = false");
        await Fixture.ExecuteAsync("UPDATE access.workflows SET is_default = false");

        (await Should.ThrowAsync<BadRequestException>(() => ResolveAsync(new PolicyScope(null, null, null, "read", "vault", "x"))))
            .Message.ShouldBe("no policy matched and no default workflow exists");
    }

    [Fact]
    public async Task The_prod_invariant_vetoes_a_rules_direct_reveal_on_prod_only()
    {
        var workflow = await WorkflowAsync("reveal");
        await Fixture.ExecuteAsync(
            "INSERT INTO access.policies (id, name, selector, workflow_id, priority, direct_reveal_allowed) VALUES (@Id, 'r', '{}', @Workflow, 500, true)",
            new { Id = Guid.CreateVersion7(), Workflow = workflow });

        var prod = await ResolveAsync(new PolicyScope("p", "live", "prod", "read", "vault", "x"));
        var dev = await ResolveAsync(new PolicyScope("p", "dev", "non_prod", "read", "vault", "x"));

        prod.DirectRevealAllowed.ShouldBeFalse();
        prod.InvariantViolated.ShouldBeTrue();
        dev.DirectRevealAllowed.ShouldBeTrue();
        dev.InvariantViolated.ShouldBeFalse();
    }

    private async Task<PolicyDecision> ResolveAsync(PolicyScope scope)
    {
        await using var services = Fixture.Services.CreateAsyncScope();
        return await PolicyEngine.ResolveAsync(services.ServiceProvider.GetRequiredService<DbSession>(), scope, CancellationToken.None);
    }

    private async Task<Guid> WorkflowAsync(string name, bool enabled = true)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync("INSERT INTO access.workflows (id, name, enabled) VALUES (@Id, @Name, @Enabled)", new { Id = id, Name = name, Enabled = enabled });
        return id;
    }

    private async Task<Guid> RuleAsync(string name, string selector, Guid workflow, long priority)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO access.policies (id, name, selector, workflow_id, priority) VALUES (@Id, @Name, CAST(@Selector AS jsonb), @Workflow, @Priority)",
            new { Id = id, Name = name, Selector = selector, Workflow = workflow, Priority = priority });
        return id;
    }
}
