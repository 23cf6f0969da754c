using Capstan.Features.Access;
using Capstan.Features.Access.Policies;
using Capstan.Features.Access.Projects;
using Capstan.Features.Access.Requests;
using Capstan.Features.Access.Workflows;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Access;

/// <summary>Workflows, policies, tenancy and the housekeeping job, at the handler level.</summary>
public sealed class AdministrationHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    [Fact]
    public async Task One_default_workflow_and_unique_names()
    {
        var admin = CallerOf(await Fixture.CreateUserAsync(BaseRole.Admin));
        var created = await SendAsync(admin, new CreateWorkflow.Command("w", null, 0, null, null, null, null, null, null, null, null, null, null));

        created.MinApprovers.ShouldBe(0);
        await Should.ThrowAsync<ConflictException>(() => SendAsync(admin, new CreateWorkflow.Command("w", null, null, null, null, null, null, null, null, null, null, null, null)));
        await Should.ThrowAsync<ConflictException>(() => SendAsync(admin, new CreateWorkflow.Command("d", null, null, null, null, null, null, null, null, null, null, true, null)));
        await Should.ThrowAsync<ValidationException>(() => SendAsync(admin, new CreateWorkflow.Command("t", null, null, null, 0, null, null, null, null, null, null, null, null)));
        await Should.ThrowAsync<ConflictException>(() => SendAsync(admin, new UpdateWorkflow.Command(created.Id, new UpdateWorkflow.Body(
            null, null, null, default, null, null, null, null, null, null, null, true, null))));
    }

    [Fact]
    public async Task A_zero_approver_workflow_still_needs_one_vote()
    {
        var admin = CallerOf(await Fixture.CreateUserAsync(BaseRole.Admin));
        var developer = CallerOf(await Fixture.CreateUserAsync(BaseRole.Developer));
        await Fixture.ExecuteAsync("UPDATE access.workflows SET min_approvers = 0 WHERE is_default");

        var request = await SendAsync(developer, new SubmitReadRequest.Command(null, null, null, "vault", null, "x", null, "j", null));
        request.Status.ShouldBe("pending");
        (await SendAsync(admin, new ApproveRequest.Command(request.Id, null, null))).Status.ShouldBe("approved");
    }

    [Fact]
    public async Task Policy_selectors_are_checked_and_the_prod_invariant_holds_in_the_database_too()
    {
        var admin = CallerOf(await Fixture.CreateUserAsync(BaseRole.Admin));
        var workflow = Guid.Parse("00000000-0000-0000-0000-0000000ac001");
        var selector = System.Text.Json.JsonDocument.Parse("""{"environment_kind": "prod"}""").RootElement;

        await Should.ThrowAsync<BadRequestException>(() => SendAsync(admin, new CreatePolicy.Command("p", selector, workflow, null, null, true)));
        (await SendAsync(admin, new CreatePolicy.Command("p", selector, workflow, null, null, false))).DirectRevealAllowed.ShouldBeFalse();
        await Should.ThrowAsync<Npgsql.PostgresException>(() => Fixture.ExecuteAsync("UPDATE access.policies SET direct_reveal_allowed = true WHERE name = 'p'"));
        await Should.ThrowAsync<ConflictException>(() => SendAsync(admin, new DeletePolicy.Command(Guid.Parse("00000000-0000-0000-0000-0000000ac002"))));
    }

    [Fact]
    public async Task Environments_derive_their_kind_and_keep_prod_prod()
    {
        var caller = CallerOf(await Fixture.CreateUserAsync(BaseRole.Viewer));
        var project = await SendAsync(caller, new CreateProject.Command("Shop", null, null));

        (await SendAsync(caller, new CreateEnvironment.Command(project.Id, "staging", "staging", null, null, null))).Kind.ShouldBe("non_prod");
        (await SendAsync(caller, new CreateEnvironment.Command(project.Id, "live", "prod", null, null, null))).RiskLevel.ShouldBe(4);
        await Should.ThrowAsync<ValidationException>(() => SendAsync(caller, new CreateEnvironment.Command(project.Id, "x", "prod", "non_prod", null, null)));
        await Should.ThrowAsync<Npgsql.PostgresException>(() => Fixture.ExecuteAsync("UPDATE access.environments SET kind = 'non_prod' WHERE type = 'prod'"));
        await Should.ThrowAsync<ConflictException>(() => SendAsync(caller, new CreateProject.Command("shop", null, null)));
        await Should.ThrowAsync<NotFoundException>(() => SendAsync(caller, new ListProjectEnvironments.Query(Guid.NewGuid())));
    }

    [Fact]
    public async Task Housekeeping_expires_requests_marks_stale_agents_and_missing_secrets_and_erases_dead_values()
    {
        var developer = CallerOf(await Fixture.CreateUserAsync(BaseRole.Developer));
        var request = await SendAsync(developer, new SubmitPatchRequest.Command(null, null, null, "vault", null, "x", new Dictionary<string, string> { ["K"] = "v" }, "j"));
        var (agent, _) = await CreateAgentAsync();
        await Fixture.ExecuteAsync("UPDATE access.requests SET expires_at = now() - interval '1 second'");
        await Fixture.ExecuteAsync("UPDATE access.agents SET last_seen_at = now() - interval '6 minutes'");
        await Fixture.ExecuteAsync(
            "INSERT INTO access.discovered_secrets (id, cluster_name, provider_type, secret_ref, last_seen_at) VALUES (@Id, 'c', 'p', 'r', now() - interval '25 hours')",
            new { Id = Guid.CreateVersion7() });

        (await Fixture.Services.GetRequiredService<AccessMaintenance>().TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        (await Fixture.ScalarAsync<string>("SELECT status FROM access.requests WHERE id = @Id", new { request.Id })).ShouldBe("expired");
        (await Fixture.ScalarAsync<string>("SELECT status FROM access.agents WHERE id = @Id", new { agent.Id })).ShouldBe("stale");
        (await Fixture.ScalarAsync<string>("SELECT status FROM access.discovered_secrets")).ShouldBe("missing");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.wraps WHERE envelope IS NOT NULL")).ShouldBe(0);
        (await Fixture.ScalarAsync<Guid>("SELECT correlation_id FROM identity.audit_log WHERE action = 'request.transition'")).ShouldBe(request.Id);
    }
}
