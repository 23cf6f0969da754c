using Capstan.Tests.Support;

namespace Capstan.Api.Tests;

/// <summary>HTTP tests share one service instance on one database, reset before every test.</summary>
[CollectionDefinition(Name)]
public sealed class ApiCollection : ICollectionFixture<ApiFixture>
{
    public const string Name = "api";
}

/// <summary>Base of HTTP tests: a clean database and an anonymous client per test. An area with many tests gives
/// itself a collection (and so a database) of its own by deriving from <see cref="ApiTest{TFixture}"/> with its own
/// fixture type, so areas run in parallel.</summary>
public abstract class ApiTest<TFixture>(TFixture fixture) : IAsyncLifetime
    where TFixture : ApiFixture
{
    protected TFixture Fixture { get; } = fixture;

    protected HttpClient Client { get; } = fixture.CreateClient();

    public virtual Task InitializeAsync() => Fixture.ResetAsync();

    public virtual Task DisposeAsync()
    {
        Client.Dispose();
        return Task.CompletedTask;
    }
}

[Collection(ApiCollection.Name)]
public abstract class ApiTest(ApiFixture fixture) : ApiTest<ApiFixture>(fixture);
