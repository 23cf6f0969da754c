using Capstan.Features.Fleet.Extensions;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Extensions;

/// <summary>The dependency graph and the effective-policy resolution, through their handlers, against registries and
/// policy sets whose answers are worked out by hand.</summary>
public sealed class ExtensionResolutionTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private async Task<Guid> ExtensionAsync(string name, params string[] dependencies)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.extensions (id, name, display_name, description, category, version, dependencies) VALUES (@Id, @Name, @Name, 'd', 'dev', '1.0.0', @Dependencies)",
            new { Id = id, Name = name, Dependencies = dependencies });
        return id;
    }

    private async Task<Guid> PolicyAsync(Guid extension, string policy, Guid? instance = null, Guid? team = null, string? pinned = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.extension_policies (id, extension_id, instance_id, team_id, policy, pinned_version) VALUES (@Id, @Extension, @Instance, @Team, @Policy, @Pinned)",
            new { Id = id, Extension = extension, Instance = instance, Team = team, Policy = policy, Pinned = pinned });
        return id;
    }

    [Fact]
    public async Task Dependencies_come_in_install_order_each_once()
    {
        // app → [web, db]; web → [http, json]; db → [json, driver]; http → [json]; driver is not registered.
        // Post-order from app: json (via web → http), http, web, driver, db  — json is not repeated under db.
        var app = await ExtensionAsync("app", "web", "db");
        await ExtensionAsync("web", "http", "json");
        await ExtensionAsync("db", "json", "driver");
        await ExtensionAsync("http", "json");
        await ExtensionAsync("json");
        await ExtensionAsync("unrelated", "app");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var graph = await Fixture.SendAsAsync(viewer, new GetExtensionDependencies.Query(app));

        graph.Name.ShouldBe("app");
        graph.Dependencies.ShouldBe(["json", "http", "web", "driver", "db"]);
        graph.Missing.ShouldBe(["driver"]);
        graph.Graph.Nodes.Select(node => node.Name).Order().ShouldBe(["app", "db", "driver", "http", "json", "web"]);
        graph.Graph.Nodes.Single(node => node.Name == "driver").Registered.ShouldBeFalse();
        graph.Graph.Nodes.Single(node => node.Name == "json").Depth.ShouldBe(3);
        graph.Graph.Edges.Count.ShouldBe(7);
        graph.Graph.Edges.ShouldContain(new GetExtensionDependencies.Edge("db", "json"));
    }

    [Fact]
    public async Task A_leaf_has_no_dependencies()
    {
        var leaf = await ExtensionAsync("leaf");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var graph = await Fixture.SendAsAsync(viewer, new GetExtensionDependencies.Query(leaf));

        graph.Dependencies.ShouldBeEmpty();
        graph.Graph.Edges.ShouldBeEmpty();
        graph.Graph.Nodes.ShouldHaveSingleItem().Name.ShouldBe("leaf");
    }

    [Fact]
    public async Task A_cycle_is_a_400_naming_it()
    {
        // a → b → c → b: the path a, b, c meets b again.
        var a = await ExtensionAsync("a", "b");
        await ExtensionAsync("b", "c");
        await ExtensionAsync("c", "b");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var error = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetExtensionDependencies.Query(a)));

        error.Details!["dependencies"].ShouldBe(["Dependency cycle: b -> c -> b"]);
    }

    [Fact]
    public async Task A_diamond_is_not_a_cycle()
    {
        // top → [left, right]; left → base; right → base: base, left, right.
        var top = await ExtensionAsync("top", "left", "right");
        await ExtensionAsync("left", "base");
        await ExtensionAsync("right", "base");
        await ExtensionAsync("base");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Fixture.SendAsAsync(viewer, new GetExtensionDependencies.Query(top))).Dependencies.ShouldBe(["base", "left", "right"]);
    }

    [Fact]
    public async Task The_most_specific_policy_wins_per_extension()
    {
        var team = Guid.CreateVersion7();
        var otherTeam = Guid.CreateVersion7();
        var instance = await InstanceAsync("box");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET team_id = @Team WHERE id = @Id", new { Team = team, Id = instance });
        var other = await InstanceAsync("other");
        var node = await ExtensionAsync("node");
        var python = await ExtensionAsync("python");
        var rust = await ExtensionAsync("rust");
        var go = await ExtensionAsync("go");
        var java = await ExtensionAsync("java");

        // node: global AUTO_UPDATE, team PIN 18.0.0, instance FREEZE → instance FREEZE.
        await PolicyAsync(node, "AUTO_UPDATE");
        await PolicyAsync(node, "PIN", team: team, pinned: "18.0.0");
        var nodeInstance = await PolicyAsync(node, "FREEZE", instance: instance);
        // python: global FREEZE, team PIN 3.12.0 → team PIN 3.12.0.
        await PolicyAsync(python, "FREEZE");
        var pythonTeam = await PolicyAsync(python, "PIN", team: team, pinned: "3.12.0");
        // rust: global PIN 1.80.0 only; another team's and another instance's AUTO_UPDATE do not apply → global.
        var rustGlobal = await PolicyAsync(rust, "PIN", pinned: "1.80.0");
        await PolicyAsync(rust, "AUTO_UPDATE", team: otherTeam);
        await PolicyAsync(rust, "AUTO_UPDATE", instance: other);
        // go: only another instance's policy → absent. java: no policy → absent.
        await PolicyAsync(go, "FREEZE", instance: other);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Admin);

        var effective = await Fixture.SendAsAsync(viewer, new GetEffectivePolicies.Query(instance));

        effective.TeamId.ShouldBe(team);
        effective.Policies.Keys.Order().ShouldBe(new[] { node, python, rust }.Order());
        effective.Policies[node].ShouldBe(new GetEffectivePolicies.Effective("node", "FREEZE", null, "instance", nodeInstance));
        effective.Policies[python].ShouldBe(new GetEffectivePolicies.Effective("python", "PIN", "3.12.0", "team", pythonTeam));
        effective.Policies[rust].ShouldBe(new GetEffectivePolicies.Effective("rust", "PIN", "1.80.0", "global", rustGlobal));
        effective.Policies.ContainsKey(java).ShouldBeFalse();
        effective.Policies.ContainsKey(go).ShouldBeFalse();
    }

    [Fact]
    public async Task An_instance_without_a_team_gets_global_and_its_own_policies()
    {
        var instance = await InstanceAsync("solo");
        var node = await ExtensionAsync("node");
        var python = await ExtensionAsync("python");
        var nodeGlobal = await PolicyAsync(node, "AUTO_UPDATE");
        await PolicyAsync(node, "PIN", team: Guid.CreateVersion7(), pinned: "1.0.0");
        var pythonOwn = await PolicyAsync(python, "PIN", instance: instance, pinned: "3.11.2");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var effective = await Fixture.SendAsAsync(admin, new GetEffectivePolicies.Query(instance));

        effective.TeamId.ShouldBeNull();
        effective.Policies[node].ShouldBe(new GetEffectivePolicies.Effective("node", "AUTO_UPDATE", null, "global", nodeGlobal));
        effective.Policies[python].ShouldBe(new GetEffectivePolicies.Effective("python", "PIN", "3.11.2", "instance", pythonOwn));
    }

    [Fact]
    public async Task Re_setting_a_policy_replaces_it_at_every_level()
    {
        var instance = await InstanceAsync("box");
        var node = await ExtensionAsync("node");
        var team = Guid.CreateVersion7();
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Admin);

        var first = await Fixture.SendAsAsync(operatorUser, new SetExtensionPolicy.Command(node, null, null, "AUTO_UPDATE", null));
        var second = await Fixture.SendAsAsync(operatorUser, new SetExtensionPolicy.Command(node, null, null, "PIN", "2.0.0"));
        await Fixture.SendAsAsync(operatorUser, new SetExtensionPolicy.Command(node, null, team, "FREEZE", null));
        var teamAgain = await Fixture.SendAsAsync(operatorUser, new SetExtensionPolicy.Command(node, null, team, "AUTO_UPDATE", "9.9.9"));
        await Fixture.SendAsAsync(operatorUser, new SetExtensionPolicy.Command(node, instance, null, "FREEZE", null));
        var instanceAgain = await Fixture.SendAsAsync(operatorUser, new SetExtensionPolicy.Command(node, instance, null, "FREEZE", null));

        first.Created.ShouldBeTrue();
        second.Created.ShouldBeFalse();
        second.Policy.Id.ShouldBe(first.Policy.Id);
        second.Policy.PinnedVersion.ShouldBe("2.0.0");
        teamAgain.Created.ShouldBeFalse();
        teamAgain.Policy.PinnedVersion.ShouldBeNull();
        instanceAgain.Created.ShouldBeFalse();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extension_policies")).ShouldBe(3);
    }
}
