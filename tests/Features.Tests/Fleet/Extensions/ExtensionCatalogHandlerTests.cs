using Capstan.Features.Fleet.Extensions;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Extensions;

/// <summary>The registry's own slices (create, update, delete, detail, list, categories, summary) through the pipeline
/// on the fleet database, with the stored rows and audit read back.</summary>
public sealed class ExtensionCatalogHandlerTests(FleetHandlerFixture fixture) : ExtensionRegistryHandlerTest(fixture)
{
    private static CreateExtension.Command NewExtension(
        string? name = "nodejs", string? version = "2.1.0", string? homepage = "https://nodejs.org", string[]? tags = null, string[]? dependencies = null,
        string? scope = null, string? displayName = " Node.js ") =>
        new(name, displayName, "JavaScript runtime", "languages", version, "OpenJS", "MIT", homepage, null, tags, dependencies, scope, null);

    private static UpdateExtension.Body Change(
        string? description = null, string? version = null, string[]? tags = null, string[]? dependencies = null, string? scope = null, bool? deprecated = null) =>
        new(null, description, null, version, null, null, null, null, tags, dependencies, scope, null, deprecated);

    private Task<long> CountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extensions");

    [Fact]
    public async Task An_operator_registers_an_extension_with_trimmed_and_deduplicated_fields()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        var created = await Fixture.SendAsAsync(operatorUser, NewExtension(tags: [" js ", "js", "runtime"], dependencies: ["mise", "mise"], scope: "private"));

        (created.Name, created.DisplayName, created.Category, created.Version, created.Scope).ShouldBe(("nodejs", "Node.js", "languages", "2.1.0", "PRIVATE"));
        created.Tags.ShouldBe(["js", "runtime"]);
        created.Dependencies.ShouldBe(["mise"]);
        (created.IsOfficial, created.IsDeprecated, created.DownloadCount, created.InstallCount).ShouldBe((false, false, 0L, 0L));
        created.PublishedBy.ShouldBe(operatorUser.Id);
        var stored = await Fixture.QueryAsync<(string Name, string Scope, string[] Tags, Guid PublishedBy)>(
            "SELECT name, scope, tags, published_by FROM fleet.extensions WHERE id = @Id", new { created.Id });
        var row = stored.ShouldHaveSingleItem();
        (row.Name, row.Scope, row.PublishedBy).ShouldBe(("nodejs", "PRIVATE", operatorUser.Id));
        row.Tags.ShouldBe(["js", "runtime"]);
        (await AuditAsync(created.Id)).ShouldBe([$"extension.create {operatorUser.Id} nodejs"]);
    }

    [Fact]
    public async Task A_taken_name_is_a_conflict()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        await Fixture.SendAsAsync(operatorUser, NewExtension());

        var error = await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(version: "3.0.0")));

        error.Message.ShouldBe("Extension 'nodejs' already exists");
        (await Fixture.ScalarAsync<string>("SELECT version FROM fleet.extensions")).ShouldBe("2.1.0");
    }

    [Fact]
    public async Task Invalid_registrations_are_refused_and_store_nothing()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(name: "Node.JS")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(name: new string('a', 101))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(displayName: "")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(version: "2.1")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(homepage: "ftp://nodejs.org")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(tags: ["ok", " "])));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(dependencies: ["Mise"])));
        var self = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(dependencies: ["nodejs"])));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, NewExtension(scope: "WORLD")));

        self.Errors.Select(error => error.ErrorMessage).ShouldContain("an extension cannot depend on itself");
        (await CountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task An_update_changes_only_the_given_fields_and_is_audited()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var id = await ExtensionAsync("nodejs", tags: ["old"]);

        var updated = await Fixture.SendAsAsync(operatorUser, new UpdateExtension.Command(id, Change(version: "2.2.0", tags: [" new ", "new"], scope: "internal", deprecated: true)));

        (updated.Name, updated.DisplayName, updated.Description, updated.Version, updated.Scope, updated.IsDeprecated).ShouldBe(("nodejs", "NODEJS", "an extension", "2.2.0", "INTERNAL", true));
        updated.Tags.ShouldBe(["new"]);
        (await Fixture.QueryAsync<(string Version, bool Deprecated)>("SELECT version, is_deprecated FROM fleet.extensions WHERE id = @Id", new { Id = id }))
            .ShouldBe([("2.2.0", true)]);
        (await AuditAsync(id)).ShouldBe([$"extension.update {operatorUser.Id} nodejs"]);
    }

    [Fact]
    public async Task An_update_that_makes_an_extension_depend_on_itself_is_refused_and_rolled_back()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var id = await ExtensionAsync("nodejs");

        var error = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(operatorUser, new UpdateExtension.Command(id, Change(version: "9.9.9", dependencies: ["mise", "nodejs"]))));

        error.Details!["dependencies"].ShouldBe(["an extension cannot depend on itself"]);
        (await Fixture.QueryAsync<(string Version, string[] Dependencies)>("SELECT version, dependencies FROM fleet.extensions WHERE id = @Id", new { Id = id }))
            .ShouldHaveSingleItem().Version.ShouldBe("1.0.0");
        (await AuditAsync(id)).ShouldBeEmpty();
    }

    [Fact]
    public async Task Updates_of_unknown_extensions_or_with_invalid_fields_are_refused()
    {
        var operatorUser = await Fixture.CreateUserAsync(BaseRole.Operator);
        var id = await ExtensionAsync("nodejs");

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(operatorUser, new UpdateExtension.Command(Guid.CreateVersion7(), Change(version: "2.0.0"))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateExtension.Command(id, Change(version: "two"))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateExtension.Command(id, Change(description: "   "))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateExtension.Command(id, Change(scope: "WORLD"))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(operatorUser, new UpdateExtension.Command(id, Change(dependencies: ["Bad Name"]))));

        (await Fixture.ScalarAsync<string>("SELECT version FROM fleet.extensions WHERE id = @Id", new { Id = id })).ShouldBe("1.0.0");
    }

    [Fact]
    public async Task An_admin_deletes_an_extension_with_its_usages_and_policies()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var id = await ExtensionAsync("nodejs");
        var kept = await ExtensionAsync("python");
        var instance = await InstanceAsync("box");
        await UsageAsync(id, instance, DateTime.UtcNow);
        await UsageAsync(kept, instance, DateTime.UtcNow);
        await PolicyAsync(id);

        var deleted = await Fixture.SendAsAsync(admin, new DeleteExtension.Command(id));

        deleted.ShouldBe(new DeleteExtension.Response(true, id, "nodejs"));
        (await Fixture.QueryAsync<string>("SELECT name FROM fleet.extensions")).ShouldBe(["python"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extension_usages WHERE extension_id = @Id", new { Id = id })).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extension_usages")).ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extension_policies")).ShouldBe(0);
        (await AuditAsync(id)).ShouldBe([$"extension.delete {admin.Id} nodejs"]);
    }

    [Fact]
    public async Task Deleting_an_unknown_or_empty_id_is_refused()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new DeleteExtension.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new DeleteExtension.Command(Guid.Empty)));
    }

    [Fact]
    public async Task The_detail_lists_the_callers_visible_active_installs_newest_first_and_policies_global_first()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var id = await ExtensionAsync("nodejs");
        var older = await InstanceAsync("older");
        var newer = await InstanceAsync("newer");
        var removed = await InstanceAsync("removed");
        var failed = await InstanceAsync("failed");
        var hidden = await TeamInstanceAsync("team-box");
        var now = DateTime.UtcNow;
        await UsageAsync(id, older, now.AddHours(-3), "1.0.0");
        await UsageAsync(id, newer, now.AddHours(-1), "1.1.0");
        await UsageAsync(id, removed, now.AddHours(-2), removedAt: now.AddMinutes(-30));
        await UsageAsync(id, failed, now.AddHours(-2), failed: true);
        await UsageAsync(id, hidden, now.AddMinutes(-5));
        var instancePolicy = await PolicyAsync(id, "PIN", instance: older, pinned: "1.0.0");
        var teamPolicy = await PolicyAsync(id, "FREEZE", team: Guid.CreateVersion7());
        var globalPolicy = await PolicyAsync(id);

        var detail = await Fixture.SendAsAsync(viewer, new GetExtension.Query(id));
        var asAdmin = await Fixture.SendAsAsync(admin, new GetExtension.Query(id));

        detail["name"]!.GetValue<string>().ShouldBe("nodejs");
        detail["install_count"]!.ToJsonString().ShouldBe("3");
        detail["usages"]!.AsArray().Select(usage => usage!["instance_name"]!.GetValue<string>()).ShouldBe(["newer", "older"]);
        detail["usages"]![0]!["version"]!.GetValue<string>().ShouldBe("1.1.0");
        detail["policies"]!.AsArray().Select(policy => policy!["id"]!.GetValue<string>()).ShouldBe([globalPolicy.ToString(), teamPolicy.ToString(), instancePolicy.ToString()]);
        detail["policies"]![2]!["pinned_version"]!.GetValue<string>().ShouldBe("1.0.0");
        asAdmin["usages"]!.AsArray().Select(usage => usage!["instance_name"]!.GetValue<string>()).ShouldBe(["team-box", "newer", "older"]);
    }

    [Fact]
    public async Task The_detail_shows_at_most_ten_installs()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await ExtensionAsync("nodejs");
        var start = DateTime.UtcNow.AddHours(-12);
        for (var index = 0; index < 12; index++)
        {
            await UsageAsync(id, await InstanceAsync($"box-{index:00}"), start.AddMinutes(index));
        }

        var detail = await Fixture.SendAsAsync(viewer, new GetExtension.Query(id));

        detail["usages"]!.AsArray().Select(usage => usage!["instance_name"]!.GetValue<string>())
            .ShouldBe(Enumerable.Range(2, 10).Reverse().Select(index => $"box-{index:00}"));
        detail["install_count"]!.ToJsonString().ShouldBe("12");
    }

    [Fact]
    public async Task The_detail_of_an_unknown_or_empty_id_is_refused()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetExtension.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetExtension.Query(Guid.Empty)));
    }

    [Fact]
    public async Task The_list_puts_official_first_then_most_downloaded_then_by_name_and_pages()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await ExtensionAsync("zeta", official: true, downloads: 1);
        await ExtensionAsync("beta", downloads: 50);
        await ExtensionAsync("alpha", downloads: 50);
        await ExtensionAsync("gamma", downloads: 90);
        await ExtensionAsync("delta");

        var all = await Fixture.SendAsAsync(viewer, new ListExtensions.Query(null, null, null, null, null, new PageRequest(0, 50)));
        var second = await Fixture.SendAsAsync(viewer, new ListExtensions.Query(null, null, null, null, null, new PageRequest(2, 2)));

        all.Extensions.Select(extension => extension.Name).ShouldBe(["zeta", "gamma", "alpha", "beta", "delta"]);
        all.Total.ShouldBe(5);
        second.Extensions.Select(extension => extension.Name).ShouldBe(["alpha", "beta"]);
        (second.Total, second.Page, second.TotalPages).ShouldBe((5L, 2, 3));
        second.Data.ShouldBe(second.Extensions);
    }

    [Fact]
    public async Task The_list_filters_by_category_scope_official_search_and_tags()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await ExtensionAsync("my_tool", category: "tools", tags: ["cli"]);
        await ExtensionAsync("mytool", category: "tools", scope: "PRIVATE", tags: ["gui"]);
        await ExtensionAsync("python", category: "languages", official: true, description: "Python with uv", tags: ["lang", "ml"]);
        await ExtensionAsync("ruby", category: "languages", tags: ["lang"]);

        async Task<string[]> NamesAsync(string? category = null, string? scope = null, string? search = null, bool? official = null, string? tags = null) =>
            [.. (await Fixture.SendAsAsync(viewer, new ListExtensions.Query(category, scope, search, official, tags, new PageRequest(0, 50)))).Extensions.Select(e => e.Name).Order()];

        (await NamesAsync(category: " tools ")).ShouldBe(["my_tool", "mytool"]);
        (await NamesAsync(scope: "private")).ShouldBe(["mytool"]);
        (await NamesAsync(official: true)).ShouldBe(["python"]);
        (await NamesAsync(official: false)).ShouldBe(["my_tool", "mytool", "ruby"]);
        (await NamesAsync(search: "_")).ShouldBe(["my_tool"]);
        (await NamesAsync(search: "WITH UV")).ShouldBe(["python"]);
        (await NamesAsync(search: "gui")).ShouldBe(["mytool"]);
        (await NamesAsync(tags: "ml, cli")).ShouldBe(["my_tool", "python"]);
        (await NamesAsync(category: "languages", tags: "lang", official: false)).ShouldBe(["ruby"]);
    }

    [Fact]
    public async Task The_list_refuses_an_unknown_scope_and_overlong_filters()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListExtensions.Query(null, "WORLD", null, null, null, new PageRequest(0, 50))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListExtensions.Query(null, null, new string('x', 201), null, null, new PageRequest(0, 50))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListExtensions.Query(new string('x', 51), null, null, null, null, new PageRequest(0, 50))));
    }

    [Fact]
    public async Task Categories_are_counted_largest_first_then_by_name()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await ExtensionAsync("a", category: "tools");
        await ExtensionAsync("b", category: "languages");
        await ExtensionAsync("c", category: "languages");
        await ExtensionAsync("d", category: "ai");

        var categories = await Fixture.SendAsAsync(viewer, new ListExtensionCategories.Query());

        categories.Categories.Select(category => $"{category.Category}:{category.Count}").ShouldBe(["languages:2", "ai:1", "tools:1"]);
    }

    [Fact]
    public async Task The_summary_ranks_non_deprecated_extensions_by_active_installs_then_downloads()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var popular = await ExtensionAsync("popular", downloads: 1);
        var downloaded = await ExtensionAsync("downloaded", downloads: 100);
        var old = await ExtensionAsync("old", deprecated: true, downloads: 500);
        await ExtensionAsync("unused");
        var first = await InstanceAsync("first");
        var second = await InstanceAsync("second");
        var third = await InstanceAsync("third");
        var now = DateTime.UtcNow;
        await UsageAsync(popular, first, now);
        await UsageAsync(popular, second, now);
        await UsageAsync(downloaded, first, now);
        await UsageAsync(downloaded, second, now, removedAt: now);
        await UsageAsync(downloaded, third, now, failed: true);
        await UsageAsync(old, first, now);

        var summary = await Fixture.SendAsAsync(viewer, new GetExtensionSummary.Query());

        summary.TopExtensions.Select(top => $"{top.Name}:{top.ActiveInstalls}:{top.DownloadCount}").ShouldBe(["popular:2:1", "downloaded:1:100", "unused:0:0"]);
        (summary.InstancesWithExtensions, summary.TotalExtensions, summary.DeprecatedExtensions, summary.ActiveInstalls).ShouldBe((2L, 4L, 1L, 4L));
    }
}
