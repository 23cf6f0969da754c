using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Registry;

/// <summary>A fleet service whose <c>sindri</c> CLI (<c>Sindri:CliPath</c>) is a stand-in script answering
/// <c>extension list</c>, <c>profile list</c>, <c>profile info</c> and <c>version</c> with JSON. A marker file beside
/// it makes it fail (<see cref="BreakCli"/>); a mode file makes it print other answers (<see cref="SetMode"/>).</summary>
public sealed class SindriRegistryHandlerFixture : ApiFixture
{
    public string CliPath { get; } = WriteStandIn();

    protected override string Purpose => "fleet_registry_handlers";

    protected override ApiFactory CreateFactory(string connectionString) =>
        new(connectionString, new Dictionary<string, string?> { ["Sindri:CliPath"] = CliPath });

    /// <summary>Makes the CLI exit 1 (true) or answer again (false).</summary>
    public void BreakCli(bool broken)
    {
        if (broken)
        {
            File.WriteAllText(CliPath + ".broken", "x");
        }
        else
        {
            File.Delete(CliPath + ".broken");
        }
    }

    /// <summary>"" answers normally; "odd" prints non-list JSON and a version without a version; "text" prints no JSON.</summary>
    public void SetMode(string mode) => File.WriteAllText(CliPath + ".mode", mode);

    private static string WriteStandIn()
    {
        var directory = Directory.CreateTempSubdirectory("capstan-registry-handlers-sindri-");
        var path = Path.Combine(directory.FullName, "sindri");
        File.WriteAllText(path, """
            #!/bin/sh
            if [ -e "$0.broken" ]; then echo "registry unreachable" >&2; exit 1; fi
            mode=""
            if [ -e "$0.mode" ]; then mode=$(cat "$0.mode"); fi
            if [ "$mode" = "text" ]; then echo "not json"; exit 0; fi
            if [ "$mode" = "odd" ]; then
              case "$1" in
                version) echo '{"commit":"abc1234"}' ;;
                *) echo '{"unexpected":true}' ;;
              esac
              exit 0
            fi
            case "$1 $2 $3" in
              "extension list --json")
                echo '{"extensions":[{"name":"nodejs","category":"languages","version":"2.1.0","software":"node 20","status":"installed","description":"JavaScript runtime","dependencies":["mise"]},'
                echo ' {"name":"mise","category":"tools","version":"1.0.0","description":"Tool version manager","dependencies":["nodejs"]},'
                echo ' {"name":"python","category":"Languages","version":"1.4.0","description":"Python with uv","dependencies":["mise"]},'
                echo ' {"name":"","category":"tools"},'
                echo ' {"name":"ai-toolkit","version":"0.9.0","description":"Agents and assistants","dependencies":["nodejs","python","missing"]}]}' ;;
              "profile list --json")
                echo '[{"name":"minimal","description":"Just node","extensions":["nodejs"]},{"name":"ai","description":"AI work","extensions":["ai-toolkit","python"]},'
                echo ' {"name":"fullstack"},"solo",{"description":"nameless"}]' ;;
              "profile info fullstack")
                echo '{"name":"fullstack","description":"Web development","extensions":[{"name":"nodejs"},"python",{"name":"docker"}]}' ;;
              "profile info solo")
                echo '{"name":"solo","extensions":["git"]}' ;;
              "version --json ")
                echo '{"cli_version":"3.2.1","git_commit":"abc1234","buildDate":"2026-01-02"}' ;;
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
public sealed class SindriRegistryHandlerCollection : ICollectionFixture<SindriRegistryHandlerFixture>
{
    public const string Name = "fleet-registry-handlers";
}

/// <summary>Base of the tests on the stand-in CLI: it answers normally at the start of each test.</summary>
[Collection(SindriRegistryHandlerCollection.Name)]
public abstract class SindriRegistryHandlerTest(SindriRegistryHandlerFixture fixture) : HandlerTest<SindriRegistryHandlerFixture>(fixture)
{
    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Fixture.BreakCli(false);
        Fixture.SetMode(string.Empty);
    }
}
