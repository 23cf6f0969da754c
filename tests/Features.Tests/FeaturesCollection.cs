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

/// <summary>Base of handler tests; an area with many tests derives from <see cref="HandlerTest{TFixture}"/> with a
/// fixture (and collection) of its own so it runs beside the others.</summary>
public abstract class HandlerTest<TFixture>(TFixture fixture) : IAsyncLifetime
    where TFixture : ApiFixture
{
    protected TFixture Fixture { get; } = fixture;

    public virtual Task InitializeAsync() => Fixture.ResetAsync();

    public virtual Task DisposeAsync() => Task.CompletedTask;
}

[Collection(FeaturesCollection.Name)]
public abstract class HandlerTest(FeaturesFixture fixture) : HandlerTest<FeaturesFixture>(fixture);
