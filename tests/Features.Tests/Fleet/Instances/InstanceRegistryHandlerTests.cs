using System.Text.Json;
using Capstan.Features.Fleet.Instances;
using Capstan.Features.Tests.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Instances;

/// <summary>Registering instances (insert, re-register by name, agent spellings, coordinates, team rules) and the
/// instance list's filters, visibility, order and paging.</summary>
public sealed class InstanceRegistryHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private static readonly SortClause Newest = new("createdAt", "i.created_at", OrderDirection.Descending, "i.id");

    private static ListInstances.Query List(
        string? status = null, string? provider = null, string? region = null, string? distro = null, Guid? team = null, string? search = null, bool includeDestroyed = false,
        int offset = 0, int size = 20, SortClause? sort = null) =>
        new(status, provider, region, distro, team, search, includeDestroyed, new PageRequest(offset, size), sort ?? Newest);

    private static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Fact]
    public async Task Registering_a_new_instance_stores_it_running_with_its_region_coordinates_a_deploy_event_and_an_audit_row()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var result = await Fixture.SendAsAsync(viewer, new RegisterInstance.Command
        {
            Name = "web-1",
            Provider = " FLY ",
            Region = "ams",
            Distro = "Ubuntu",
            Extensions = ["nodejs", " python ", "nodejs"],
            Tags = Json("""{"env":"prod"}"""),
            AgentVersion = "1.2.3",
            Os = "linux",
            Arch = "amd64",
        });

        result.Created.ShouldBeTrue();
        var view = result.Instance;
        (view.Name, view.Provider, view.Region, view.Distro, view.Status, view.AgentVersion, view.Online).ShouldBe(("web-1", "fly", "ams", "ubuntu", "RUNNING", "1.2.3", false));
        view.Extensions.ShouldBe(["nodejs", "python"]);
        view.Tags.GetProperty("env").GetString().ShouldBe("prod");
        view.Geo.ShouldBe(new GeoView(52.37, 4.90, "Amsterdam, Netherlands", "region_registry"));
        (await Fixture.QueryAsync<(string Status, Guid CreatedBy)>("SELECT status, created_by FROM fleet.instances WHERE id = @Id", new { Id = view.Id }))
            .ShouldBe([("RUNNING", viewer.Id)]);
        (await Fixture.QueryAsync<(string Type, Guid Actor, bool Reregistered)>(
                "SELECT event_type, actor_id, (metadata->>'reregistered')::boolean FROM fleet.instance_events WHERE instance_id = @Id", new { Id = view.Id }))
            .ShouldBe([("DEPLOY", viewer.Id, false)]);
        (await Fixture.QueryAsync<(string Action, string Name)>("SELECT action, resource_name FROM identity.audit_log WHERE resource_id = @Id", new { Id = view.Id.ToString() }))
            .ShouldBe([("instance.register", "web-1")]);
    }

    [Fact]
    public async Task Registering_the_same_name_again_updates_the_instance_and_keeps_what_was_not_sent()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var first = await Fixture.SendAsAsync(viewer, new RegisterInstance.Command
        {
            Name = "web-1",
            Provider = "fly",
            Distro = "fedora",
            Extensions = ["git"],
            Tags = Json("""{"a":"1"}"""),
            Geo = new RegisterInstance.GeoInput(10, 20, "Town", null, null),
        });
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET status = 'ERROR' WHERE id = @Id", new { Id = first.Instance.Id });

        var second = await Fixture.SendAsAsync(viewer, new RegisterInstance.Command { Name = "web-1", Provider = "docker" });

        second.Created.ShouldBeFalse();
        var view = second.Instance;
        (view.Id, view.Provider, view.Status, view.Distro).ShouldBe((first.Instance.Id, "docker", "RUNNING", "fedora"));
        view.Extensions.ShouldBe(["git"]);
        view.Tags.GetProperty("a").GetString().ShouldBe("1");
        view.Geo.ShouldBeNull();
        first.Instance.Geo.ShouldBe(new GeoView(10, 20, "Town", "cloud_metadata"));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instances")).ShouldBe(1);
        (await Fixture.QueryAsync<bool>(
                "SELECT (metadata->>'reregistered')::boolean FROM fleet.instance_events WHERE instance_id = @Id ORDER BY occurred_at", new { Id = view.Id }))
            .ShouldBe([false, true]);
        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log WHERE resource_id = @Id ORDER BY occurred_at", new { Id = view.Id.ToString() }))
            .ShouldBe(["instance.register", "instance.reregister"]);
    }

    [Fact]
    public async Task An_agent_is_named_by_its_host_name_or_the_instance_its_id_names_and_tags_can_place_it()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var known = await InstanceAsync("known-box");

        var byHost = await Fixture.SendAsAsync(viewer, new RegisterInstance.Command
        {
            Hostname = "My_Host.Example",
            Provider = "ssh",
            Tags = Json("""{"geo_lat":"48.85","geo_lon":2.35}"""),
        });
        var byId = await Fixture.SendAsAsync(viewer, new RegisterInstance.Command { AgentInstanceId = known.ToString(), Provider = "fly", AgentVersionSnake = "2.0.0" });

        byHost.Instance.Name.ShouldBe("my-host-example");
        byHost.Instance.Geo.ShouldBe(new GeoView(48.85, 2.35, null, "user_tags"));
        (byId.Created, byId.Instance.Id, byId.Instance.Name, byId.Instance.AgentVersion).ShouldBe((false, known, "known-box", "2.0.0"));
    }

    [Fact]
    public async Task A_name_held_by_another_teams_instance_is_a_conflict_and_a_foreign_team_is_a_bad_request()
    {
        var hidden = await InstanceAsync("taken");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new RegisterInstance.Command { Name = "taken", Provider = "fly" }));
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new RegisterInstance.Command { Name = "mine", Provider = "fly", TeamId = Guid.CreateVersion7() }));

        (await Fixture.QueryAsync<string>("SELECT name FROM fleet.instances")).ShouldBe(["taken"]);
        (await Fixture.ScalarAsync<string>("SELECT provider FROM fleet.instances WHERE id = @Id", new { Id = hidden })).ShouldBe("fly");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_events")).ShouldBe(0);
    }

    public static TheoryData<string, RegisterInstance.Command> BadRegistrations => new()
    {
        { "bad name", new RegisterInstance.Command { Name = "Web_1", Provider = "fly" } },
        { "no name", new RegisterInstance.Command { Provider = "fly" } },
        { "no provider", new RegisterInstance.Command { Name = "a" } },
        { "unknown provider", new RegisterInstance.Command { Name = "a", Provider = "heroku" } },
        { "unknown distro", new RegisterInstance.Command { Name = "a", Provider = "fly", Distro = "arch" } },
        { "bad config hash", new RegisterInstance.Command { Name = "a", Provider = "fly", ConfigHash = "ABC" } },
        { "empty extension", new RegisterInstance.Command { Name = "a", Provider = "fly", Extensions = [""] } },
        { "latitude", new RegisterInstance.Command { Name = "a", Provider = "fly", Geo = new RegisterInstance.GeoInput(91, 0, null, null, null) } },
        { "longitude", new RegisterInstance.Command { Name = "a", Provider = "fly", Geo = new RegisterInstance.GeoInput(0, -181, null, null, null) } },
        { "tags not an object", new RegisterInstance.Command { Name = "a", Provider = "fly", Tags = Json("[1]") } },
        { "long arch", new RegisterInstance.Command { Name = "a", Provider = "fly", Arch = new string('x', 33) } },
    };

    [Theory]
    [MemberData(nameof(BadRegistrations))]
    public async Task Registration_rejects_invalid_input(string rule, RegisterInstance.Command command)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, command), rule);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instances")).ShouldBe(0);
    }

    [Fact]
    public async Task The_list_filters_by_status_provider_region_distro_team_and_search_and_hides_destroyed_and_other_teams()
    {
        var now = DateTime.UtcNow;
        var web = await InstanceAsync("web-ams", createdAt: now.AddMinutes(-5));
        var api = await InstanceAsync("api_1", "SUSPENDED", createdAt: now.AddMinutes(-4));
        await InstanceAsync("old", "DESTROYED", createdAt: now.AddMinutes(-3));
        var hidden = await InstanceAsync("hidden", createdAt: now.AddMinutes(-2));
        var team = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            UPDATE fleet.instances SET region = 'ams', distro = 'ubuntu' WHERE id = @Web;
            UPDATE fleet.instances SET provider = 'docker', region = 'lhr', distro = 'fedora' WHERE id = @Api;
            UPDATE fleet.instances SET team_id = @Team WHERE id = @Hidden;
            """,
            new { Web = web, Api = api, Hidden = hidden, Team = team });
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        async Task<string[]> NamesAsync(TestUser user, ListInstances.Query query) => [.. (await Fixture.SendAsAsync(user, query)).Instances.Select(instance => instance.Name)];

        (await NamesAsync(viewer, List())).ShouldBe(["api_1", "web-ams"]);
        (await NamesAsync(admin, List())).ShouldBe(["hidden", "api_1", "web-ams"]);
        (await NamesAsync(viewer, List(includeDestroyed: true))).ShouldBe(["old", "api_1", "web-ams"]);
        (await NamesAsync(viewer, List(status: "destroyed, suspended"))).ShouldBe(["old", "api_1"]);
        (await NamesAsync(viewer, List(provider: "DOCKER"))).ShouldBe(["api_1"]);
        (await NamesAsync(viewer, List(region: " ams "))).ShouldBe(["web-ams"]);
        (await NamesAsync(viewer, List(distro: "Fedora"))).ShouldBe(["api_1"]);
        (await NamesAsync(admin, List(team: team))).ShouldBe(["hidden"]);
        (await NamesAsync(viewer, List(team: team))).ShouldBeEmpty();
        (await NamesAsync(viewer, List(search: "AMS"))).ShouldBe(["web-ams"]);
        (await NamesAsync(viewer, List(search: "lhr"))).ShouldBe(["api_1"]);
        // An underscore is matched literally, not as a LIKE wildcard.
        (await NamesAsync(viewer, List(search: "i_1"))).ShouldBe(["api_1"]);
        (await NamesAsync(viewer, List(search: "b_a"))).ShouldBeEmpty();
    }

    [Fact]
    public async Task The_list_sorts_and_pages()
    {
        var now = DateTime.UtcNow;
        foreach (var (name, minutes) in new[] { ("charlie", 1), ("alpha", 2), ("delta", 3), ("bravo", 4) })
        {
            await InstanceAsync(name, createdAt: now.AddMinutes(-minutes));
        }

        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var newest = await Fixture.SendAsAsync(viewer, List(size: 3));
        var byName = await Fixture.SendAsAsync(viewer, List(offset: 2, size: 2, sort: new SortClause("name", "i.name", OrderDirection.Ascending, "i.id")));

        newest.Instances.Select(instance => instance.Name).ShouldBe(["charlie", "alpha", "delta"]);
        newest.Data.ShouldBe(newest.Instances);
        (newest.Pagination.Total, newest.Pagination.TotalPages, newest.Pagination.HasMore).ShouldBe((4L, 2, true));
        byName.Instances.Select(instance => instance.Name).ShouldBe(["charlie", "delta"]);
        (byName.Pagination.Page, byName.Pagination.HasMore).ShouldBe((2, false));
    }

    [Theory]
    [InlineData("LOST", null, null, null, null)]
    [InlineData(null, "heroku", null, null, null)]
    [InlineData(null, null, "arch", null, null)]
    [InlineData(null, null, null, 65, null)]
    [InlineData(null, null, null, null, 129)]
    public async Task The_list_rejects_unknown_vocabulary_and_too_long_filters(string? status, string? provider, string? distro, int? regionLength, int? searchLength)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var query = List(
            status, provider, regionLength is { } region ? new string('r', region) : null, distro, search: searchLength is { } search ? new string('s', search) : null);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, query));
    }
}
