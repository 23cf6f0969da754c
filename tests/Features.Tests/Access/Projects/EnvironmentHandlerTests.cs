using Capstan.Features.Access.Projects;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Access.Projects;

/// <summary>The environment list (filters and order) and delete (refused while requests are open) through the real
/// pipeline.</summary>
public sealed class EnvironmentHandlerTests(AccessHandlerFixture fixture) : AccessHandlerTest(fixture)
{
    private const string DefaultWorkflowId = "00000000-0000-0000-0000-0000000ac001";

    private async Task<Guid> ProjectAsync(string name)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync("INSERT INTO access.projects (id, name) VALUES (@Id, @Name)", new { Id = id, Name = name });
        return id;
    }

    private async Task<Guid> EnvironmentAsync(Guid project, string name, string type = "dev", string kind = "non_prod")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO access.environments (id, project_id, name, type, kind, risk_level) VALUES (@Id, @Project, @Name, @Type, @Kind, @Risk)",
            new { Id = id, Project = project, Name = name, Type = type, Kind = kind, Risk = kind == "prod" ? 4 : 1 });
        return id;
    }

    private async Task<Guid> RequestAsync(TestUser requester, Guid project, Guid environment, string status)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO access.requests (id, requester_id, type, status, workflow_id, project_id, environment_id, target_provider_type, target_secret_ref, expires_at)
            VALUES (@Id, @Requester, 'patch', @Status, CAST(@Workflow AS uuid), @Project, @Environment, 'vault', 'apps/db', now() + interval '1 day')
            """,
            new { Id = id, Requester = requester.Id, Status = status, Workflow = DefaultWorkflowId, Project = project, Environment = environment });
        return id;
    }

    [Fact]
    public async Task Environments_are_listed_by_project_then_name_and_filtered_by_project_and_kind()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var first = await ProjectAsync("shop");
        var second = await ProjectAsync("billing");
        var shopStaging = await EnvironmentAsync(first, "staging");
        var shopLive = await EnvironmentAsync(first, "live", "prod", "prod");
        var shopDev = await EnvironmentAsync(first, "dev");
        var billingLive = await EnvironmentAsync(second, "live", "prod", "prod");

        var all = await SendAsync(CallerOf(viewer), new ListEnvironments.Query(null, null));
        var shop = await SendAsync(CallerOf(viewer), new ListEnvironments.Query(first, null));
        var prod = await SendAsync(CallerOf(viewer), new ListEnvironments.Query(null, "prod"));
        var shopNonProd = await SendAsync(CallerOf(viewer), new ListEnvironments.Query(first, "non_prod"));
        var unknown = await SendAsync(CallerOf(viewer), new ListEnvironments.Query(Guid.CreateVersion7(), null));

        all.Select(environment => environment.Id).ShouldBe([shopDev, shopLive, shopStaging, billingLive], "the first project's id sorts first (both are v7, made in order)");
        shop.Select(environment => environment.Name).ShouldBe(["dev", "live", "staging"]);
        prod.Select(environment => environment.Id).ShouldBe([shopLive, billingLive]);
        shopNonProd.Select(environment => environment.Id).ShouldBe([shopDev, shopStaging]);
        unknown.ShouldBeEmpty();
        var live = shop.Single(environment => environment.Id == shopLive);
        live.ProjectId.ShouldBe(first);
        live.Type.ShouldBe("prod");
        live.Kind.ShouldBe("prod");
        live.RiskLevel.ShouldBe(4);
    }

    [Fact]
    public async Task The_kind_filter_is_non_prod_or_prod()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var failure = await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(viewer), new ListEnvironments.Query(null, "staging")));

        failure.Errors.Single().ErrorMessage.ShouldBe("kind must be non_prod or prod");
    }

    [Fact]
    public async Task Delete_removes_the_environment_and_audits_it_with_its_project()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var project = await ProjectAsync("shop");
        var doomed = await EnvironmentAsync(project, "staging");
        var kept = await EnvironmentAsync(project, "dev");

        await SendAsync(CallerOf(viewer), new DeleteEnvironment.Command(doomed));

        (await Fixture.QueryAsync<Guid>("SELECT id FROM access.environments")).ShouldBe([kept]);
        var audit = (await Fixture.QueryAsync<(Guid ActorId, string ResourceName, string Metadata)>(
            "SELECT actor_id, resource_name, metadata::text FROM identity.audit_log WHERE action = 'environment.delete' AND resource_id = @Id",
            new { Id = doomed.ToString() })).Single();
        audit.ActorId.ShouldBe(viewer.Id);
        audit.ResourceName.ShouldBe("staging");
        audit.Metadata.ShouldBe($$"""{"project_id": "{{project}}"}""");
    }

    [Theory]
    [InlineData("pending")]
    [InlineData("approved")]
    public async Task An_environment_with_an_open_request_is_not_deleted(string status)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var requester = await Fixture.CreateUserAsync(BaseRole.Developer);
        var project = await ProjectAsync("shop");
        var environment = await EnvironmentAsync(project, "staging");
        await RequestAsync(requester, project, environment, status);

        (await Should.ThrowAsync<ConflictException>(() => SendAsync(CallerOf(viewer), new DeleteEnvironment.Command(environment))))
            .Message.ShouldBe("the environment has pending or approved requests");

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.environments")).ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'environment.delete'")).ShouldBe(0);
    }

    [Fact]
    public async Task Closed_requests_do_not_hold_an_environment_back_and_keep_their_record()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var requester = await Fixture.CreateUserAsync(BaseRole.Developer);
        var project = await ProjectAsync("shop");
        var environment = await EnvironmentAsync(project, "staging");
        var other = await EnvironmentAsync(project, "dev");
        var executed = await RequestAsync(requester, project, environment, "executed");
        await RequestAsync(requester, project, other, "pending");

        await SendAsync(CallerOf(viewer), new DeleteEnvironment.Command(environment));

        (await Fixture.QueryAsync<Guid>("SELECT id FROM access.environments")).ShouldBe([other]);
        (await Fixture.ScalarAsync<Guid?>("SELECT environment_id FROM access.requests WHERE id = @Id", new { Id = executed })).ShouldBeNull();
    }

    [Fact]
    public async Task Deleting_an_unknown_or_empty_id_is_refused()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Should.ThrowAsync<NotFoundException>(() => SendAsync(CallerOf(viewer), new DeleteEnvironment.Command(Guid.CreateVersion7())))).Message.ShouldBe("environment not found");
        (await Should.ThrowAsync<ValidationException>(() => SendAsync(CallerOf(viewer), new DeleteEnvironment.Command(Guid.Empty))))
            .Errors.Select(error => error.PropertyName).ShouldBe(["id"]);
    }
}
