using System.Security.Cryptography;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;

namespace Capstan.Infrastructure.Clusters;

/// <summary>A registered cluster as the primitives need it (no display fields); the sealed credentials never leave
/// the process.</summary>
public sealed record RegisteredCluster
{
    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Server { get; init; } = string.Empty;

    public string AuthType { get; init; } = string.Empty;

    /// <summary><c>platform</c> (everyone sees it) or <c>user</c> (its owner and whom it is shared with).</summary>
    public string Scope { get; init; } = "user";

    public Guid? OwnerId { get; init; }

    public bool Insecure { get; init; }

    public string? Namespace { get; init; }

    public string? Context { get; init; }

    public long CredentialsVersion { get; init; }

    public string Status { get; init; } = "unknown";

    [JsonIgnore]
    public byte[] SealedCredentials { get; init; } = [];
}

/// <summary>
/// The cluster registry as the areas use it (gitops now, delivery later): find a cluster the caller may see by id or
/// name (seed 001 addresses clusters by id, seed 002 by name; someone else's cluster is simply not found), pick the
/// cluster a gitops request means (<c>?cluster=</c>, then the <c>gyre_cluster</c> cookie, then the caller's default),
/// and hand out the pooled <see cref="KubernetesClient"/> for it. Visibility: platform clusters are everyone's; user
/// clusters are their owner's and their shares'; <see cref="Permissions.ClusterManage"/> sees all.
/// </summary>
public sealed class ClusterDirectory(DbSession db, EnvelopeCipher cipher, KubernetesClientPool pool)
{
    /// <summary>The cookie naming the selected cluster (Gyre's).</summary>
    public const string CookieName = "gyre_cluster";

    private const string Columns = """
        c.id, c.name, c.server, c.auth_type, c.scope, c.owner_id, c.insecure, c.namespace, c.context, c.credentials_version, c.status,
        c.credentials AS sealed_credentials
        """;

    /// <summary>The SQL condition "cluster <c>c</c> is visible to the caller", with parameters <c>@Manage</c> (holds
    /// <see cref="Permissions.ClusterManage"/>) and <c>@UserId</c>.</summary>
    public const string Visible = """
        (@Manage OR c.scope = 'platform' OR c.owner_id = @UserId
         OR EXISTS (SELECT 1 FROM clusters.cluster_shares s WHERE s.cluster_id = c.id AND s.user_id = @UserId))
        """;

    /// <summary>The cluster with this id or (case-insensitive) name, when the caller may see it; otherwise null.</summary>
    public Task<RegisteredCluster?> FindVisibleAsync(string idOrName, Caller caller, CancellationToken cancellationToken)
    {
        var key = idOrName.Trim();
        return db.QuerySingleOrDefaultAsync<RegisteredCluster>(
            $"""
            SELECT {Columns} FROM clusters.clusters c
            WHERE (c.id = @Id OR lower(c.name) = lower(@Name)) AND {Visible}
            ORDER BY (c.id = @Id) DESC NULLS LAST
            LIMIT 1
            """,
            new { Id = Guid.TryParse(key, out var id) ? id : (Guid?)null, Name = key, Manage = caller.Has(Permissions.ClusterManage), caller.UserId },
            cancellationToken);
    }

    /// <summary>Like <see cref="FindVisibleAsync"/>, but a 404 naming the cluster when it is not there for the caller.</summary>
    public async Task<RegisteredCluster> GetVisibleAsync(string idOrName, Caller caller, CancellationToken cancellationToken) =>
        await FindVisibleAsync(idOrName, caller, cancellationToken) ?? throw new NotFoundException("Cluster not found");

    /// <summary>The cluster a gitops request targets: the explicit choice (<c>?cluster=</c> or a body's
    /// <c>cluster</c>), else the <c>gyre_cluster</c> cookie (ignored when stale), else the caller's default.</summary>
    public async Task<RegisteredCluster> SelectAsync(Caller caller, string? requested, string? cookie, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(requested))
        {
            return await FindVisibleAsync(requested, caller, cancellationToken) ?? throw new NotFoundException($"Cluster '{requested.Trim()}' not found");
        }

        if (!string.IsNullOrWhiteSpace(cookie) && await FindVisibleAsync(Uri.UnescapeDataString(cookie), caller, cancellationToken) is { } fromCookie)
        {
            return fromCookie;
        }

        return await DefaultAsync(caller, explicitOnly: false, cancellationToken)
            ?? throw new NotFoundException("No cluster selected: pass ?cluster=<id or name>, set the gyre_cluster cookie, or register a cluster");
    }

    /// <summary>The caller's default cluster: the one they chose; unless <paramref name="explicitOnly"/>, otherwise the
    /// oldest platform cluster, otherwise the oldest cluster they can see.</summary>
    public Task<RegisteredCluster?> DefaultAsync(Caller caller, bool explicitOnly, CancellationToken cancellationToken) =>
        db.QuerySingleOrDefaultAsync<RegisteredCluster>(
            $"""
            SELECT {Columns} FROM clusters.clusters c
            LEFT JOIN clusters.user_defaults d ON d.cluster_id = c.id AND d.user_id = @UserId
            WHERE {Visible} AND (NOT @ExplicitOnly OR d.user_id IS NOT NULL)
            ORDER BY (d.user_id IS NOT NULL) DESC, (c.scope = 'platform') DESC, c.created_at, c.id
            LIMIT 1
            """,
            new { Manage = caller.Has(Permissions.ClusterManage), caller.UserId, ExplicitOnly = explicitOnly },
            cancellationToken);

    /// <summary>Every registered cluster (for background work, which acts for no caller).</summary>
    public Task<List<RegisteredCluster>> AllAsync(CancellationToken cancellationToken) =>
        db.QueryAsync<RegisteredCluster>($"SELECT {Columns} FROM clusters.clusters c ORDER BY c.created_at, c.id", null, cancellationToken);

    /// <summary>The owner, or anyone holding <see cref="Permissions.ClusterManage"/>, may change a cluster.</summary>
    public static bool CanManage(RegisteredCluster cluster, Caller caller) =>
        caller.Has(Permissions.ClusterManage) || (cluster.OwnerId is { } owner && owner == caller.UserId);

    /// <summary>The pooled client of the cluster (a new one when its credentials changed).</summary>
    public KubernetesClient Connect(RegisteredCluster cluster)
    {
        try
        {
            return pool.Get(cluster.Id.ToString(), cluster.CredentialsVersion.ToString(System.Globalization.CultureInfo.InvariantCulture), cluster.Name, () => ConnectionOf(cluster));
        }
        catch (FormatException exception)
        {
            throw Unusable(cluster, exception.Message);
        }
    }

    /// <summary>The decrypted connection of the cluster (for probes that must not use the pool).</summary>
    public ClusterConnection ConnectionOf(RegisteredCluster cluster)
    {
        try
        {
            return ClusterCredentials.Open(cipher, cluster.Id, cluster.SealedCredentials).ToConnection(cluster.AuthType, cluster.Server, cluster.Insecure, cluster.Namespace);
        }
        catch (FormatException exception)
        {
            throw Unusable(cluster, exception.Message);
        }
        catch (CryptographicException)
        {
            throw Unusable(cluster, "they cannot be decrypted with the current master key");
        }
    }

    /// <summary>Forgets the pooled client of a cluster (deleted, credentials replaced).</summary>
    public void Forget(Guid clusterId) => pool.Remove(clusterId.ToString());

    private static ServiceUnavailableException Unusable(RegisteredCluster cluster, string why) =>
        new($"Cluster '{cluster.Name}' has unusable credentials: {why}");
}
