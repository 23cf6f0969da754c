using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Tests.Support;

/// <summary>Registers clusters straight into the database (credentials sealed as the service seals them), pointing
/// at a fake API server, so tests of other routes need no registration round trip.</summary>
public static class ClusterRegistrations
{
    public static async Task<Guid> RegisterClusterAsync(
        this ApiFixture fixture, FakeKubernetesApi api, string name, Guid? ownerId = null, string scope = "platform", string? token = null, bool isDefaultFor = false)
    {
        var id = Guid.CreateVersion7();
        var cipher = fixture.Services.GetRequiredService<EnvelopeCipher>();
        var credentials = new ClusterCredentials { Kubeconfig = api.Kubeconfig(token: token) };
        await fixture.ExecuteAsync(
            """
            INSERT INTO clusters.clusters (id, name, server, auth_type, credentials, context, scope, owner_id, status, created_at, updated_at)
            VALUES (@Id, @Name, @Server, 'kubeconfig', @Credentials, 'fake', @Scope, @OwnerId, 'connected', clock_timestamp(), clock_timestamp())
            """,
            new { Id = id, Name = name, Server = api.BaseUrl, Credentials = credentials.Seal(cipher, id), Scope = scope, OwnerId = ownerId });
        if (isDefaultFor && ownerId is { } owner)
        {
            await fixture.ExecuteAsync("INSERT INTO clusters.user_defaults (user_id, cluster_id) VALUES (@Owner, @Id)", new { Owner = owner, Id = id });
        }

        return id;
    }

    /// <summary>A cluster whose API server does not listen (a closed loopback port).</summary>
    public static async Task<Guid> RegisterUnreachableClusterAsync(this ApiFixture fixture, string name, Guid? ownerId = null, string scope = "platform")
    {
        var id = Guid.CreateVersion7();
        var cipher = fixture.Services.GetRequiredService<EnvelopeCipher>();
        var credentials = new ClusterCredentials { Token = "unused" };
        await fixture.ExecuteAsync(
            """
            INSERT INTO clusters.clusters (id, name, server, auth_type, credentials, scope, owner_id, status, created_at, updated_at)
            VALUES (@Id, @Name, @Server, 'token', @Credentials, @Scope, @OwnerId, 'connected', clock_timestamp(), clock_timestamp())
            """,
            new { Id = id, Name = name, Server = $"http://127.0.0.1:{ClosedPort()}", Credentials = credentials.Seal(cipher, id), Scope = scope, OwnerId = ownerId });
        return id;
    }

    public static int ClosedPort()
    {
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
