using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;

namespace Capstan.Infrastructure.Delivery;

/// <summary>An object a workflow's runs applied (row of <c>delivery.workflow_objects</c>).</summary>
public sealed class TrackedObject
{
    public Guid ClusterId { get; init; }

    public string NodeId { get; init; } = string.Empty;

    public string ApiVersion { get; init; } = string.Empty;

    public string Kind { get; init; } = string.Empty;

    public string Namespace { get; init; } = string.Empty;

    public string Name { get; init; } = string.Empty;
}

/// <summary>What a cleanup did: the objects deleted (<c>Kind namespace/name</c>) and what could not be done.</summary>
public sealed record CleanupResult(IReadOnlyList<string> Deleted, IReadOnlyList<string> Kept, IReadOnlyList<string> Warnings);

/// <summary>
/// The cluster a workflow deploys to and the clean-up of what it deployed. A workflow names its cluster
/// (<c>cluster_id</c>, KubeOrch's cluster name) among those the caller may use (own, shared with them, platform); an
/// empty name means the caller's default cluster. A named cluster that is not there is a 404 — the upstream fell back
/// to any cluster of that name, or silently to the default.
/// </summary>
public static class DeliveryClusters
{
    public static async Task<RegisteredCluster> ResolveAsync(ClusterDirectory directory, Caller caller, string? clusterName, CancellationToken cancellationToken)
    {
        if (!string.IsNullOrWhiteSpace(clusterName))
        {
            return await directory.FindVisibleAsync(clusterName, caller, cancellationToken)
                ?? throw new NotFoundException($"Cluster '{clusterName.Trim()}' not found");
        }

        return await directory.DefaultAsync(caller, explicitOnly: false, cancellationToken)
            ?? throw new BadRequestException("No cluster to deploy to: set the workflow's cluster_id or register a default cluster");
    }

    /// <summary>
    /// Deletes from the cluster the objects the workflow's runs applied (only those of <paramref name="nodeIds"/> when
    /// given), in <see cref="DeliveryKinds.DeletionRank"/> order, and forgets them. Secrets are kept. Best effort: an
    /// unreachable cluster or a refused delete becomes a warning and the object stays tracked.
    /// </summary>
    public static async Task<CleanupResult> CleanUpAsync(
        DbSession db, ClusterDirectory directory, Caller caller, Guid workflowId, IReadOnlyCollection<string>? nodeIds, CancellationToken cancellationToken)
    {
        var tracked = await db.QueryAsync<TrackedObject>(
            """
            SELECT cluster_id, node_id, api_version, kind, namespace, name FROM delivery.workflow_objects
            WHERE workflow_id = @WorkflowId AND (@NodeIds::text[] IS NULL OR node_id = ANY(@NodeIds))
            """,
            new { WorkflowId = workflowId, NodeIds = nodeIds?.ToArray() },
            cancellationToken);
        var deleted = new List<string>();
        var kept = new List<string>();
        var warnings = new List<string>();
        foreach (var byCluster in tracked.GroupBy(item => item.ClusterId))
        {
            var cluster = await directory.FindVisibleAsync(byCluster.Key.ToString(), caller, cancellationToken);
            if (cluster is null)
            {
                warnings.Add($"Cluster {byCluster.Key} is no longer available: {byCluster.Count()} object(s) were not deleted");
                continue;
            }

            KubernetesClient client;
            try
            {
                client = directory.Connect(cluster);
            }
            catch (ApiException exception)
            {
                warnings.Add(exception.Message);
                continue;
            }

            foreach (var item in byCluster.OrderBy(item => DeliveryKinds.DeletionRank(item.Kind)).ThenBy(item => item.Name, StringComparer.Ordinal))
            {
                var label = $"{item.Kind} {(item.Namespace.Length > 0 ? item.Namespace + "/" : string.Empty)}{item.Name}";
                if (DeliveryKinds.KeptOnCleanup(item.Kind))
                {
                    kept.Add(label);
                    continue;
                }

                try
                {
                    await ManifestApplier.DeleteAsync(client, item.ApiVersion, item.Kind, item.Namespace.Length > 0 ? item.Namespace : null, item.Name, cancellationToken);
                    deleted.Add(label);
                    await db.ExecuteAsync(
                        """
                        DELETE FROM delivery.workflow_objects
                        WHERE workflow_id = @WorkflowId AND cluster_id = @ClusterId AND api_version = @ApiVersion AND kind = @Kind AND namespace = @Namespace AND name = @Name
                        """,
                        new { WorkflowId = workflowId, item.ClusterId, item.ApiVersion, item.Kind, item.Namespace, item.Name },
                        cancellationToken);
                }
                catch (ApiException exception)
                {
                    warnings.Add($"{label} was not deleted: {exception.Message}");
                }
            }
        }

        return new CleanupResult(deleted, kept, warnings);
    }
}
