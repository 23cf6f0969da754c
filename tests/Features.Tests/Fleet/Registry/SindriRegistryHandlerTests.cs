using Capstan.Features.Fleet.Providers;
using Capstan.Features.Fleet.Registry;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Registry;

/// <summary>The registry slices and the profile list read the <c>sindri</c> CLI (a stand-in script here): what they
/// derive from its answers, and the 503 when it fails, prints something else, or is missing.</summary>
public sealed class SindriRegistryHandlerTests(SindriRegistryHandlerFixture fixture) : SindriRegistryHandlerTest(fixture)
{
    private async Task<TestUser> ViewerAsync() => await Fixture.CreateUserAsync(BaseRole.Viewer);

    [Fact]
    public async Task Extensions_come_from_the_cli_sorted_by_name_without_nameless_ones()
    {
        var viewer = await ViewerAsync();

        var all = await Fixture.SendAsAsync(viewer, new ListRegistryExtensions.Query(null, null));

        all.Total.ShouldBe(4);
        all.Extensions.Select(extension => extension.Name).ShouldBe(["ai-toolkit", "mise", "nodejs", "python"]);
        var node = all.Extensions[2];
        (node.Category, node.Version, node.Software, node.Status, node.Description).ShouldBe(("languages", "2.1.0", "node 20", "installed", "JavaScript runtime"));
        node.Dependencies.ShouldBe(["mise"]);
        all.Extensions[0].Category.ShouldBe("uncategorized");
        all.Extensions[1].Dependencies.ShouldBe(["nodejs"]);
    }

    [Fact]
    public async Task Extensions_filter_by_category_in_any_case_and_search_name_or_description()
    {
        var viewer = await ViewerAsync();

        async Task<string[]> NamesAsync(string? category, string? search) =>
            [.. (await Fixture.SendAsAsync(viewer, new ListRegistryExtensions.Query(category, search))).Extensions.Select(extension => extension.Name)];

        (await NamesAsync(" LANGUAGES ", null)).ShouldBe(["nodejs", "python"]);
        (await NamesAsync(null, "UV")).ShouldBe(["python"]);
        (await NamesAsync(null, " kit ")).ShouldBe(["ai-toolkit"]);
        (await NamesAsync("languages", "runtime")).ShouldBe(["nodejs"]);
        (await NamesAsync("tools", "runtime")).ShouldBeEmpty();
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListRegistryExtensions.Query(new string('c', 101), null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListRegistryExtensions.Query(null, new string('s', 201))));
    }

    [Fact]
    public async Task Categories_are_counted_case_insensitively_largest_first_then_by_name()
    {
        var categories = await Fixture.SendAsAsync(await ViewerAsync(), new ListRegistryCategories.Query());

        categories.Categories.Select(category => $"{category.Name}:{category.Count}").ShouldBe(["languages:2", "tools:1", "uncategorized:1"]);
    }

    [Fact]
    public async Task Profiles_count_their_extensions_with_every_transitive_dependency_once()
    {
        var profiles = await Fixture.SendAsAsync(await ViewerAsync(), new ListRegistryProfiles.Query());

        // minimal: nodejs → mise → nodejs (a cycle) = 2; ai: ai-toolkit, python, nodejs, mise and the unlisted "missing" = 5.
        profiles.Profiles.Select(profile => $"{profile.Name}:{profile.ExtensionCount}:{profile.TotalWithDependencies}").ShouldBe(["minimal:1:2", "ai:2:5", "fullstack:0:0"]);
        profiles.Profiles[1].Extensions.ShouldBe(["ai-toolkit", "python"]);
        profiles.Profiles[1].Description.ShouldBe("AI work");
        profiles.Profiles[2].Description.ShouldBeNull();
    }

    [Fact]
    public async Task The_version_reads_the_clis_alternative_field_names()
    {
        var version = await Fixture.SendAsAsync(await ViewerAsync(), new GetRegistryVersion.Query());

        version.ShouldBe(new GetRegistryVersion.Response("3.2.1", "abc1234", "2026-01-02", null));
    }

    [Fact]
    public async Task A_failing_cli_is_a_503_for_every_registry_read()
    {
        var viewer = await ViewerAsync();
        Fixture.BreakCli(true);

        var extensions = await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListRegistryExtensions.Query(null, null)));
        await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListRegistryCategories.Query()));
        await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListRegistryProfiles.Query()));
        var version = await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new GetRegistryVersion.Query()));
        await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListProfiles.Query()));

        extensions.Message.ShouldBe("The sindri CLI failed to answer 'sindri extension list --json'");
        version.Message.ShouldBe("The sindri CLI failed to answer 'sindri version --json'");
    }

    [Fact]
    public async Task Answers_without_the_expected_list_or_version_are_a_503()
    {
        var viewer = await ViewerAsync();
        Fixture.SetMode("odd");

        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListRegistryExtensions.Query(null, null)))).Message
            .ShouldBe("The sindri CLI printed no extensions list");
        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListRegistryProfiles.Query()))).Message
            .ShouldBe("The sindri CLI printed no profiles list");
        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new GetRegistryVersion.Query()))).Message
            .ShouldBe("The sindri CLI did not report a version");
        await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListProfiles.Query()));

        Fixture.SetMode("text");
        (await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListRegistryCategories.Query()))).Message
            .ShouldBe("The sindri CLI failed to answer 'sindri extension list --json'");
    }

    [Fact]
    public async Task A_missing_cli_is_a_503_naming_the_setting()
    {
        var viewer = await ViewerAsync();
        var away = Fixture.CliPath + ".away";
        File.Move(Fixture.CliPath, away);
        try
        {
            var registry = await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new GetRegistryVersion.Query()));
            var profiles = await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new ListProfiles.Query()));

            registry.Message.ShouldBe("The sindri CLI is not available (Sindri__CliPath is 'sindri' and no such executable was found)");
            profiles.Message.ShouldBe($"The sindri CLI is not available at '{Fixture.CliPath}' (Sindri:CliPath) or did not list profiles");
        }
        finally
        {
            File.Move(away, Fixture.CliPath);
        }
    }

    [Fact]
    public async Task The_profile_list_completes_profiles_listed_without_extensions_from_profile_info()
    {
        var profiles = await Fixture.SendAsAsync(await ViewerAsync(), new ListProfiles.Query());

        profiles.Total.ShouldBe(4);
        profiles.Profiles.Select(profile => $"{profile.Name}|{profile.Description}|{string.Join(',', profile.Extensions)}|{profile.ExtensionCount}").ShouldBe([
            "minimal|Just node|nodejs|1",
            "ai|AI work|ai-toolkit,python|2",
            "fullstack|Web development|nodejs,python,docker|3",
            "solo||git|1",
        ]);
        profiles.Data.ShouldBe(profiles.Profiles);
    }
}
