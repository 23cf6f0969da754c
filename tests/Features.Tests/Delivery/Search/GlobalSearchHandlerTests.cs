using Capstan.Features.Delivery;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Delivery.Search;

/// <summary>Global search through the real pipeline: the caller's own workflows and resources and the clusters they
/// may see, matched as plain text, five at most each, in their orders.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class GlobalSearchHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private async Task<Guid> WorkflowAsync(TestUser owner, string name, string description = "", int secondsAgo = 0, bool deleted = false)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO delivery.workflows (id, owner_id, name, description, updated_at, deleted_at)
            VALUES (@Id, @Owner, @Name, @Description, now() - make_interval(secs => @SecondsAgo), CASE WHEN @Deleted THEN now() END)
            """,
            new { Id = id, Owner = owner.Id, Name = name, Description = description, SecondsAgo = secondsAgo, Deleted = deleted });
        return id;
    }

    private async Task<Guid> ResourceAsync(TestUser owner, string name, string @namespace = "default", bool deleted = false)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO delivery.resources (id, user_id, cluster_name, namespace, name, kind, api_version, deleted_at)
            VALUES (@Id, @Owner, 'prod', @Namespace, @Name, 'Deployment', 'apps/v1', CASE WHEN @Deleted THEN now() END)
            """,
            new { Id = id, Owner = owner.Id, Namespace = @namespace, Name = name, Deleted = deleted });
        return id;
    }

    private async Task<Guid> ClusterAsync(string name, string displayName, string scope = "platform", TestUser? owner = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO clusters.clusters (id, name, display_name, server, auth_type, credentials, scope, owner_id, status)
            VALUES (@Id, @Name, @DisplayName, 'https://127.0.0.1:1', 'token', '\x00'::bytea, @Scope, @Owner, 'connected')
            """,
            new { Id = id, Name = name, DisplayName = displayName, Scope = scope, Owner = owner?.Id });
        return id;
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("sh")]
    [InlineData("  sh  ")]
    public async Task Fewer_than_three_characters_find_nothing(string? q)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await WorkflowAsync(viewer, "shop");
        await ResourceAsync(viewer, "shop-web");
        await ClusterAsync("shop-cluster", "Shop");

        var response = await Fixture.SendAsAsync(viewer, new GlobalSearch.Query(q));

        response.Workflows.ShouldBeEmpty();
        response.Resources.ShouldBeEmpty();
        response.Clusters.ShouldBeEmpty();
    }

    [Fact]
    public async Task Workflows_match_name_or_description_of_the_callers_live_ones_newest_five_first()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var expected = new List<Guid>();
        for (var i = 0; i < 6; i++)
        {
            expected.Add(await WorkflowAsync(viewer, $"Shop-{i}", secondsAgo: i * 60));
        }

        var byDescription = await WorkflowAsync(viewer, "orders", "the SHOP backend", secondsAgo: 150);
        await WorkflowAsync(viewer, "shop-deleted", deleted: true);
        await WorkflowAsync(other, "shop-of-other");
        await WorkflowAsync(viewer, "unrelated");

        var response = await Fixture.SendAsAsync(viewer, new GlobalSearch.Query(" shop "));

        response.Workflows.Select(workflow => workflow.Id).ShouldBe([expected[0], expected[1], expected[2], byDescription, expected[3]]);
        var first = response.Workflows[0];
        first.Name.ShouldBe("Shop-0");
        first.Status.ShouldBe("draft");
        response.Workflows[3].Description.ShouldBe("the SHOP backend");
    }

    [Fact]
    public async Task Resources_match_name_or_namespace_of_the_callers_live_ones_by_name()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var web = await ResourceAsync(viewer, "web", "payments");
        var api = await ResourceAsync(viewer, "payments-api");
        await ResourceAsync(viewer, "payments-old", deleted: true);
        await ResourceAsync(other, "payments-theirs");
        await ResourceAsync(viewer, "unrelated");

        var response = await Fixture.SendAsAsync(viewer, new GlobalSearch.Query("PAYMENTS"));

        response.Resources.Select(resource => resource.Id).ShouldBe([api, web]);
        var hit = response.Resources[1];
        hit.Name.ShouldBe("web");
        hit.Namespace.ShouldBe("payments");
        hit.Type.ShouldBe("Deployment");
        hit.ClusterName.ShouldBe("prod");
    }

    [Fact]
    public async Task Resources_are_five_at_most()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        foreach (var name in new[] { "app-f", "app-b", "app-e", "app-a", "app-d", "app-c" })
        {
            await ResourceAsync(viewer, name);
        }

        var response = await Fixture.SendAsAsync(viewer, new GlobalSearch.Query("app-"));

        response.Resources.Select(resource => resource.Name).ShouldBe(["app-a", "app-b", "app-c", "app-d", "app-e"]);
    }

    [Fact]
    public async Task Clusters_are_those_the_caller_may_see_matching_name_or_display_name()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await ClusterAsync("eu-prod", "Europe production");
        await ClusterAsync("mine", "My production", "user", viewer);
        await ClusterAsync("theirs", "Their production", "user", other);
        var shared = await ClusterAsync("shared", "Shared production", "user", other);
        await Fixture.ExecuteAsync("INSERT INTO clusters.cluster_shares (cluster_id, user_id, role) VALUES (@Cluster, @User, 'viewer')", new { Cluster = shared, User = viewer.Id });
        await ClusterAsync("staging", "Staging");

        var seen = await Fixture.SendAsAsync(viewer, new GlobalSearch.Query("production"));
        var managed = await Fixture.SendAsAsync(admin, new GlobalSearch.Query("production"));
        var byName = await Fixture.SendAsAsync(viewer, new GlobalSearch.Query("eu-pr"));

        seen.Clusters.Select(cluster => cluster.Name).ShouldBe(["eu-prod", "mine", "shared"]);
        seen.Clusters[0].DisplayName.ShouldBe("Europe production");
        seen.Clusters[0].Status.ShouldBe("connected");
        managed.Clusters.Select(cluster => cluster.Name).ShouldBe(["eu-prod", "mine", "shared", "theirs"]);
        byName.Clusters.Select(cluster => cluster.Name).ShouldBe(["eu-prod"]);
    }

    [Fact]
    public async Task Percent_and_underscore_are_plain_text()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var percent = await WorkflowAsync(viewer, "cpu-50%-alert");
        await WorkflowAsync(viewer, "cpu-500-alert");
        var underscore = await WorkflowAsync(viewer, "a_b_c");
        await WorkflowAsync(viewer, "axbxc");

        (await Fixture.SendAsAsync(viewer, new GlobalSearch.Query("50%"))).Workflows.Select(workflow => workflow.Id).ShouldBe([percent]);
        (await Fixture.SendAsAsync(viewer, new GlobalSearch.Query("a_b"))).Workflows.Select(workflow => workflow.Id).ShouldBe([underscore]);
    }

    [Fact]
    public async Task A_query_over_100_characters_is_refused()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var failure = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GlobalSearch.Query(new string('q', 101))));

        failure.Errors.Select(error => error.PropertyName).ShouldContain("q");
    }
}
