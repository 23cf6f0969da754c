using System.Text;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Clusters;

/// <summary>Base of the cluster slice handler tests: the clusters database, a fake API server per test class (reset
/// before every test), and readers of the rows the slices write (credentials opened only here, to prove they are sealed).</summary>
[Collection(ClustersHandlerCollection.Name)]
public abstract class ClusterSliceHandlerTest(ClustersHandlerFixture fixture, FakeKubernetesFixture fake)
    : HandlerTest<ClustersHandlerFixture>(fixture), IClassFixture<FakeKubernetesFixture>
{
    protected FakeKubernetesApi Api => fake.Api;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Api.Reset();
    }

    /// <summary>The stored row of the cluster named <paramref name="name"/>.</summary>
    protected async Task<StoredCluster> StoredAsync(string name) =>
        (await Fixture.QueryAsync<StoredCluster>(
            """
            SELECT id, name, display_name, description, server, auth_type, scope, owner_id, status, version, last_error, context, single_node,
                   labels::text AS labels, metadata::text AS metadata, credentials_version, credentials
            FROM clusters.clusters WHERE name = @Name
            """,
            new { Name = name })).Single();

    /// <summary>The sealed credentials of a stored cluster: not readable as text, opened with the service's cipher.</summary>
    protected ClusterCredentials Open(StoredCluster cluster)
    {
        var text = Encoding.UTF8.GetString(cluster.Credentials);
        text.ShouldNotContain("token", Case.Insensitive);
        return ClusterCredentials.Open(Fixture.Services.GetRequiredService<EnvelopeCipher>(), cluster.Id, cluster.Credentials);
    }

    protected Task<List<ClusterAuditRow>> AuditAsync() =>
        Fixture.QueryAsync<ClusterAuditRow>(
            "SELECT action, resource_type, resource_id, resource_name, actor_id, result, metadata::text AS metadata FROM identity.audit_log ORDER BY occurred_at, id");

    protected Task<List<ConnectionLogRow>> ConnectionLogsAsync() =>
        Fixture.QueryAsync<ConnectionLogRow>(
            "SELECT cluster_id, user_id, action, success, error, details::text AS details FROM clusters.connection_logs ORDER BY created_at, id");
}

public sealed record StoredCluster(
    Guid Id, string Name, string DisplayName, string Description, string Server, string AuthType, string Scope, Guid? OwnerId, string Status, string? Version,
    string? LastError, string? Context, bool SingleNode, string Labels, string Metadata, long CredentialsVersion, byte[] Credentials);

public sealed record ClusterAuditRow(string Action, string? ResourceType, string? ResourceId, string? ResourceName, Guid? ActorId, string Result, string Metadata);

public sealed record ConnectionLogRow(Guid ClusterId, Guid? UserId, string Action, bool Success, string? Error, string Details);
