using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Reliability;

/// <summary>The reliability and security sweeps (foreign objects, credential scopes, fuzzing, canaries, rate limits):
/// a database and host of their own, so they run beside the areas' tests.</summary>
public sealed class ReliabilityFixture : ApiFixture
{
    protected override string Purpose => "reliability";

    /// <summary>A <c>sindri</c> stand-in that deploys anything, so fleet deployments (and their secrets) go all the
    /// way through the runner here.</summary>
    protected override ApiFactory CreateFactory(string connectionString) =>
        new(connectionString, new Dictionary<string, string?> { ["Sindri:CliPath"] = WriteDeployingSindri() });

    private static string WriteDeployingSindri()
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("capstan-reliability-sindri-").FullName, "sindri");
        File.WriteAllText(path, """
            #!/bin/sh
            if [ "$1" = "deploy" ]; then echo "deployed"; exit 0; fi
            exit 64
            """);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}

[CollectionDefinition(Name)]
public sealed class ReliabilityCollection : ICollectionFixture<ReliabilityFixture>
{
    public const string Name = "reliability";
}

[Collection(ReliabilityCollection.Name)]
public abstract class ReliabilityTest(ReliabilityFixture fixture) : ApiTest<ReliabilityFixture>(fixture);
