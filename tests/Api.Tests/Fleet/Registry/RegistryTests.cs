using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Registry;

/// <summary>A service whose <c>sindri</c> CLI is a stand-in script answering <c>extension list</c>, <c>profile list</c>
/// and <c>version</c> with JSON. Tests make it fail (a marker file beside it) or disappear (renamed away).</summary>
public sealed class RegistryFixture : ApiFixture
{
    public string CliPath { get; } = WriteStandIn();

    protected override string Purpose => "fleet_registry";

    protected override ApiFactory CreateFactory(string connectionString) =>
        new(connectionString, new Dictionary<string, string?> { ["Sindri:CliPath"] = CliPath });

    private static string WriteStandIn()
    {
        var directory = Directory.CreateTempSubdirectory("capstan-registry-sindri-");
        var path = Path.Combine(directory.FullName, "sindri");
        File.WriteAllText(path, """
            #!/bin/sh
            if [ -e "$0.broken" ]; then echo "registry unreachable" >&2; exit 1; fi
            case "$1 $2 $3" in
              "extension list --json")
                echo '[{"name":"nodejs","category":"languages","version":"2.1.0","software":"node 20","status":"installed","description":"JavaScript runtime","dependencies":["mise"]},'
                echo ' {"name":"mise","category":"tools","version":"1.0.0","description":"Tool version manager"},'
                echo ' {"name":"python","category":"languages","version":"1.4.0","description":"Python with uv","dependencies":["mise"]},'
                echo ' {"name":"ai-toolkit","category":"ai","version":"0.9.0","description":"Agents and assistants","dependencies":["nodejs","python"]}]' ;;
              "profile list --json")
                echo '{"profiles":[{"name":"minimal","description":"Just node","extensions":["nodejs"]},{"name":"ai","description":"AI work","extensions":["ai-toolkit","python"]}]}' ;;
              "version --json "|"version --json")
                echo '{"version":"3.2.1","commit":"abc1234","build_date":"2026-01-02","target":"x86_64-unknown-linux-gnu"}' ;;
              *) echo "unknown command: $*" >&2; exit 64 ;;
            esac
            """);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return path;
    }
}

[CollectionDefinition(Name)]
public sealed class RegistryCollection : ICollectionFixture<RegistryFixture>
{
    public const string Name = "fleet-registry";
}

[Collection(RegistryCollection.Name)]
public sealed class RegistryTests(RegistryFixture fixture) : ApiTest<RegistryFixture>(fixture)
{
    private async Task<HttpClient> ViewerAsync() => (await Fixture.ClientAsAsync(BaseRole.Viewer)).Client;

    [Fact]
    public async Task Extensions_come_from_the_cli_filtered_and_sorted()
    {
        var viewer = await ViewerAsync();

        var all = await (await viewer.GetAsync("/api/v1/registry/extensions")).ShouldBeJsonAsync();

        all.PropertyNames().ShouldBe(["extensions", "total"]);
        all.GetProperty("total").GetInt32().ShouldBe(4);
        all.GetProperty("extensions").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ShouldBe(["ai-toolkit", "mise", "nodejs", "python"]);
        all.GetProperty("extensions")[2].PropertyNames().ShouldBe(["name", "category", "version", "software", "status", "description", "dependencies"]);
        (await (await viewer.GetAsync("/api/v1/registry/extensions?category=LANGUAGES")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(2);
        (await (await viewer.GetAsync("/api/v1/registry/extensions?search=uv")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(1);
    }

    [Fact]
    public async Task Categories_are_derived_with_counts()
    {
        var categories = await (await (await ViewerAsync()).GetAsync("/api/v1/registry/extensions/categories")).ShouldBeJsonAsync();

        categories.GetProperty("categories").EnumerateArray().Select(c => $"{c.GetProperty("category").GetString()}:{c.GetProperty("count").GetInt32()}")
            .ShouldBe(["languages:2", "ai:1", "tools:1"]);
    }

    [Fact]
    public async Task Profiles_count_extensions_with_their_dependencies()
    {
        var profiles = (await (await (await ViewerAsync()).GetAsync("/api/v1/registry/profiles")).ShouldBeJsonAsync()).GetProperty("profiles");

        profiles[0].PropertyNames().ShouldBe(["name", "description", "extensions", "extensionCount", "totalWithDependencies"]);
        // minimal: nodejs → mise = 2. ai: ai-toolkit → nodejs, python → mise; plus python = {ai-toolkit, nodejs, python, mise} = 4.
        profiles[0].GetProperty("extensionCount").GetInt32().ShouldBe(1);
        profiles[0].GetProperty("totalWithDependencies").GetInt32().ShouldBe(2);
        profiles[1].GetProperty("extensionCount").GetInt32().ShouldBe(2);
        profiles[1].GetProperty("totalWithDependencies").GetInt32().ShouldBe(4);
    }

    [Fact]
    public async Task The_version_is_read_from_the_cli()
    {
        var version = await (await (await ViewerAsync()).GetAsync("/api/v1/registry/version")).ShouldBeJsonAsync();

        version.PropertyNames().ShouldBe(["version", "commit", "buildDate", "target"]);
        version.GetProperty("version").GetString().ShouldBe("3.2.1");
        version.GetProperty("buildDate").GetString().ShouldBe("2026-01-02");
    }

    [Theory]
    [InlineData("/api/v1/registry/extensions")]
    [InlineData("/api/v1/registry/extensions/categories")]
    [InlineData("/api/v1/registry/profiles")]
    [InlineData("/api/v1/registry/version")]
    public async Task A_missing_or_failing_cli_is_503_naming_it(string path)
    {
        var viewer = await ViewerAsync();
        var marker = Fixture.CliPath + ".broken";
        await File.WriteAllTextAsync(marker, string.Empty);
        try
        {
            (await (await viewer.GetAsync(path)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable)).GetProperty("message").GetString()!.ShouldContain("sindri CLI");
        }
        finally
        {
            File.Delete(marker);
        }

        var hidden = Fixture.CliPath + ".away";
        File.Move(Fixture.CliPath, hidden);
        try
        {
            var error = await (await viewer.GetAsync(path)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
            error.GetProperty("error").GetString().ShouldBe("CLI_UNAVAILABLE");
            error.GetProperty("message").GetString()!.ShouldContain("sindri CLI is not available");
        }
        finally
        {
            File.Move(hidden, Fixture.CliPath);
        }
    }

    [Theory]
    [InlineData("/api/v1/registry/extensions")]
    [InlineData("/api/v1/registry/extensions/categories")]
    [InlineData("/api/v1/registry/profiles")]
    [InlineData("/api/v1/registry/version")]
    public async Task Anonymous_callers_get_401(string path) =>
        await (await Client.GetAsync(path)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
}
