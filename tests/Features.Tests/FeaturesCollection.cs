using Capstan.Tests.Support;

namespace Capstan.Features.Tests;

/// <summary>Handler tests send slices' requests through the real pipeline on one database, reset before each test.</summary>
[CollectionDefinition(Name)]
public sealed class FeaturesCollection : ICollectionFixture<FeaturesFixture>
{
    public const string Name = "features";
}

public sealed class FeaturesFixture : ApiFixture
{
    protected override string Purpose => "features";
}

[Collection(FeaturesCollection.Name)]
public abstract class HandlerTest(FeaturesFixture fixture) : IAsyncLifetime
{
    protected FeaturesFixture Fixture { get; } = fixture;

    public virtual Task InitializeAsync() => Fixture.ResetAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;
}
