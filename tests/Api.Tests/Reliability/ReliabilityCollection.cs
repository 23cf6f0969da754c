using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Reliability;

/// <summary>The reliability and security sweeps (foreign objects, credential scopes, fuzzing, canaries, rate limits):
/// a database and host of their own, so they run beside the areas' tests.</summary>
public sealed class ReliabilityFixture : ApiFixture
{
    protected override string Purpose => "reliability";
}

[CollectionDefinition(Name)]
public sealed class ReliabilityCollection : ICollectionFixture<ReliabilityFixture>
{
    public const string Name = "reliability";
}

[Collection(ReliabilityCollection.Name)]
public abstract class ReliabilityTest(ReliabilityFixture fixture) : ApiTest<ReliabilityFixture>(fixture);
