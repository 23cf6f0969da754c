using Capstan.Features.Delivery.Catalog;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Delivery.Catalog;

/// <summary>The catalog slices (templates, plugins, categories, per-user enable and disable) through the real pipeline
/// on the seeded catalog.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class PluginCatalogHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private static readonly string[] CoreTemplates =
    [
        "core/configmap", "core/cronjob", "core/daemonset", "core/deployment", "core/hpa", "core/ingress", "core/job", "core/networkpolicy",
        "core/persistentvolumeclaim", "core/secret", "core/service", "core/statefulset",
    ];

    private Task<long> AuditCountAsync(string action, string pluginId, Guid actor) =>
        Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = @Action AND resource_id = @Id AND actor_id = @Actor", new { Action = action, Id = pluginId, Actor = actor });

    [Fact]
    public async Task Templates_are_the_core_kinds_in_position_order_then_the_callers_enabled_plugin_node_types()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("kubevirt"));

        var mine = await Fixture.SendAsAsync(developer, new ListTemplates.Query(null));
        var theirs = await Fixture.SendAsAsync(viewer, new ListTemplates.Query(null));

        theirs.Templates.Select(template => template.Id).ShouldBe(CoreTemplates);
        theirs.Templates.ShouldAllBe(template => !template.IsPlugin && template.PluginId == null);
        mine.Templates.Select(template => template.Id).ShouldBe([.. CoreTemplates, "kubevirt-virtualmachine"]);
        var deployment = mine.Templates.Single(template => template.Id == "core/deployment");
        deployment.Name.ShouldBe("deployment");
        deployment.DisplayName.ShouldBe("Deployment");
        deployment.UsageFrequency.ShouldBe("very-high");
        deployment.Tags.ShouldBe(["core", "deployment"]);
        mine.Templates.Single(template => template.Id == "core/hpa").Dependencies.ShouldBe(["deployment"]);
        var plugin = mine.Templates[^1];
        plugin.IsPlugin.ShouldBeTrue();
        plugin.PluginId.ShouldBe("kubevirt");
        plugin.DisplayName.ShouldBe("KubeVirt VirtualMachine");
        plugin.Category.ShouldBe("virtualization");
        plugin.Icon.ShouldBe("Puzzle");
        plugin.Tags.ShouldBe(["plugin", "virtualization", "kubevirt"]);
        var parameters = plugin.Parameters!.AsArray();
        parameters.Select(parameter => parameter!["name"]!.GetValue<string>()).ShouldBe(["name", "namespace", "running", "cpuCores", "memory", "image"]);
        parameters[0]!["required"]!.GetValue<bool>().ShouldBeTrue();
        parameters[0]!["description"]!.GetValue<string>().ShouldBe("my-virtualmachine");
        parameters[1]!["default"]!.GetValue<string>().ShouldBe("default");
        parameters[2]!["type"]!.GetValue<string>().ShouldBe("boolean");
    }

    [Fact]
    public async Task Templates_filter_by_category_across_core_and_plugin_kinds_and_validate_its_length()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("kubevirt"));

        var storage = await Fixture.SendAsAsync(developer, new ListTemplates.Query("storage"));
        var configuration = await Fixture.SendAsAsync(developer, new ListTemplates.Query("configuration"));
        var virtualization = await Fixture.SendAsAsync(developer, new ListTemplates.Query("virtualization"));
        var none = await Fixture.SendAsAsync(developer, new ListTemplates.Query("nothing-here"));

        storage.Templates.Select(template => template.Name).ShouldBe(["persistentvolumeclaim"]);
        configuration.Templates.Select(template => template.Name).ShouldBe(["configmap", "secret"]);
        virtualization.Templates.Select(template => template.Id).ShouldBe(["kubevirt-virtualmachine"]);
        none.Templates.ShouldBeEmpty();
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new ListTemplates.Query(new string('c', 51)))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("category");
    }

    [Fact]
    public async Task Plugins_are_listed_by_lower_cased_display_name_with_the_callers_enablement_and_filtered_by_category()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("falco"));

        var all = await Fixture.SendAsAsync(viewer, new ListPlugins.Query(null));
        var security = await Fixture.SendAsAsync(developer, new ListPlugins.Query("security"));
        var storage = await Fixture.SendAsAsync(viewer, new ListPlugins.Query("storage"));
        var none = await Fixture.SendAsAsync(viewer, new ListPlugins.Query("nothing-here"));

        all.Total.ShouldBe(57);
        all.Plugins.Count.ShouldBe(57);
        all.Plugins.ShouldAllBe(plugin => !plugin.Enabled && plugin.EnabledAt == null);
        all.Plugins[0].Id.ShouldBe("argocd");
        security.Plugins.Select(plugin => plugin.Id).ShouldBe(["certmanager", "external-secrets", "falco", "sealed-secrets", "vault"]);
        security.Total.ShouldBe(5);
        security.Plugins.Single(plugin => plugin.Enabled).Id.ShouldBe("falco");
        security.Plugins.Single(plugin => plugin.Id == "falco").EnabledAt.ShouldNotBeNull();
        storage.Plugins.Select(plugin => plugin.Id).ShouldBe(["longhorn", "minio", "rook-ceph"]);
        none.Total.ShouldBe(0);
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListPlugins.Query(new string('c', 51)))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("category");
    }

    [Fact]
    public async Task A_plugin_is_read_with_its_node_types_and_the_callers_enablement()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("istio"));

        var mine = await Fixture.SendAsAsync(developer, new GetPlugin.Query("istio"));
        var theirs = await Fixture.SendAsAsync(viewer, new GetPlugin.Query("istio"));

        mine.Enabled.ShouldBeTrue();
        mine.Plugin.Enabled.ShouldBeTrue();
        mine.Plugin.EnabledAt.ShouldNotBeNull();
        mine.Plugin.DisplayName.ShouldBe("Istio");
        mine.Plugin.Category.ShouldBe("networking");
        mine.Plugin.CrdGroup.ShouldBe("networking.istio.io");
        mine.Plugin.CrdKinds.ShouldBe(["VirtualService"]);
        mine.Plugin.NodeTypes!.AsArray().Single()!["name"]!.GetValue<string>().ShouldBe("istio-virtualservice");
        theirs.Enabled.ShouldBeFalse();
        theirs.Plugin.EnabledAt.ShouldBeNull();
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetPlugin.Query("nope")))).Message.ShouldBe("Plugin not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetPlugin.Query(string.Empty)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetPlugin.Query(new string('p', 101))));
    }

    [Fact]
    public async Task The_enabled_list_is_the_callers_own_sorted_by_display_name()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("kubevirt"));
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("certmanager"));
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("istio"));
        await Fixture.SendAsAsync(developer, new DisablePlugin.Command("istio"));
        await Fixture.SendAsAsync(other, new EnablePlugin.Command("argocd"));

        var mine = await Fixture.SendAsAsync(developer, new ListEnabledPlugins.Query());
        var theirs = await Fixture.SendAsAsync(other, new ListEnabledPlugins.Query());
        var nobody = await Fixture.SendAsAsync(await Fixture.CreateUserAsync(BaseRole.Viewer), new ListEnabledPlugins.Query());

        mine.Plugins.Select(plugin => plugin.Id).ShouldBe(["certmanager", "kubevirt"]);
        mine.Plugins.ShouldAllBe(plugin => plugin.Enabled);
        theirs.Plugins.Select(plugin => plugin.Id).ShouldBe(["argocd"]);
        nobody.Plugins.ShouldBeEmpty();
    }

    [Fact]
    public async Task Enable_stores_the_callers_row_once_keeps_its_first_time_and_audits()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        var enabled = await Fixture.SendAsAsync(developer, new EnablePlugin.Command("istio"));
        var first = await Fixture.ScalarAsync<DateTime>("SELECT enabled_at FROM delivery.user_plugins WHERE user_id = @User AND plugin_id = 'istio'", new { User = developer.Id });
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("istio"));

        enabled.Message.ShouldBe("Plugin enabled successfully");
        var rows = await Fixture.QueryAsync<(string PluginId, string Status, DateTime? EnabledAt)>(
            "SELECT plugin_id, status, enabled_at FROM delivery.user_plugins WHERE user_id = @User", new { User = developer.Id });
        rows.Count.ShouldBe(1);
        rows[0].PluginId.ShouldBe("istio");
        rows[0].Status.ShouldBe("enabled");
        rows[0].EnabledAt.ShouldBe(first, "enabling an enabled plugin keeps when it was enabled");
        (await AuditCountAsync("delivery.plugin.enable", "istio", developer.Id)).ShouldBe(2);
    }

    [Fact]
    public async Task Enable_refuses_an_unknown_or_empty_plugin_and_stores_nothing()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new EnablePlugin.Command("nope")))).Message.ShouldBe("Plugin not found");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new EnablePlugin.Command(string.Empty))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("id");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new EnablePlugin.Command(new string('p', 101))));

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.user_plugins")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'delivery.plugin.enable'")).ShouldBe(0);
    }

    [Fact]
    public async Task Disable_turns_the_plugin_off_for_the_caller_only_and_re_enabling_sets_a_new_time()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("istio"));
        await Fixture.SendAsAsync(other, new EnablePlugin.Command("istio"));
        await Fixture.ExecuteAsync("UPDATE delivery.user_plugins SET enabled_at = now() - interval '1 day'");

        var disabled = await Fixture.SendAsAsync(developer, new DisablePlugin.Command("istio"));

        disabled.Message.ShouldBe("Plugin disabled successfully");
        (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.user_plugins WHERE user_id = @User", new { User = developer.Id })).ShouldBe("disabled");
        (await Fixture.ScalarAsync<string>("SELECT status FROM delivery.user_plugins WHERE user_id = @User", new { User = other.Id })).ShouldBe("enabled");
        (await Fixture.SendAsAsync(developer, new GetPlugin.Query("istio"))).Enabled.ShouldBeFalse();
        (await Fixture.SendAsAsync(other, new GetPlugin.Query("istio"))).Enabled.ShouldBeTrue();
        (await AuditCountAsync("delivery.plugin.disable", "istio", developer.Id)).ShouldBe(1);

        await Fixture.SendAsAsync(developer, new EnablePlugin.Command("istio"));
        var renewed = await Fixture.ScalarAsync<DateTime>("SELECT enabled_at FROM delivery.user_plugins WHERE user_id = @User", new { User = developer.Id });
        (DateTime.UtcNow - renewed.ToUniversalTime()).ShouldBeLessThan(TimeSpan.FromHours(1), "enabling a disabled plugin records a new time");
    }

    [Fact]
    public async Task Disabling_a_plugin_never_enabled_stores_it_disabled_and_an_unknown_one_is_not_found()
    {
        var developer = await Fixture.CreateUserAsync(BaseRole.Developer);

        await Fixture.SendAsAsync(developer, new DisablePlugin.Command("kafka"));

        var row = (await Fixture.QueryAsync<(string Status, DateTime? EnabledAt)>("SELECT status, enabled_at FROM delivery.user_plugins WHERE user_id = @User", new { User = developer.Id })).Single();
        row.Status.ShouldBe("disabled");
        row.EnabledAt.ShouldBeNull();
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(developer, new DisablePlugin.Command("nope")))).Message.ShouldBe("Plugin not found");
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(developer, new DisablePlugin.Command(string.Empty))))
            .Errors.Select(failure => failure.PropertyName).ShouldContain("id");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM delivery.user_plugins")).ShouldBe(1);
    }

    [Fact]
    public async Task Categories_are_the_distinct_plugin_categories_sorted()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var categories = await Fixture.SendAsAsync(viewer, new ListPluginCategories.Query());

        categories.Categories.ShouldBe(
            ["backup", "cicd", "database", "messaging", "ml", "monitoring", "networking", "policy", "scaling", "security", "storage", "virtualization", "workflow"]);
    }
}
