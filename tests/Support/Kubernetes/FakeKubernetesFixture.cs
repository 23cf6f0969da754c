using Xunit;

namespace Capstan.Tests.Support.Kubernetes;

/// <summary>One fake API server per test class (<c>IClassFixture&lt;FakeKubernetesFixture&gt;</c>), on its own random
/// loopback port, seeded with the Flux and cluster fixtures.</summary>
public sealed class FakeKubernetesFixture : IAsyncLifetime
{
    private FakeKubernetesApi? _api;

    public FakeKubernetesApi Api => _api ?? throw new InvalidOperationException("The fake API server is not started.");

    public async Task InitializeAsync() => _api = await FakeKubernetesApi.StartAsync();

    public async Task DisposeAsync()
    {
        if (_api is not null)
        {
            await _api.DisposeAsync();
        }
    }
}
