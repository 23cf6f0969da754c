using System.Text.Json.Nodes;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Kubernetes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// Syncs a user's tracked resources from every cluster they can use (reference §10): Deployments, Pods, Services,
/// StatefulSets, ConfigMaps, Secrets (key names only, never values), Ingresses, Jobs, CronJobs, DaemonSets, HPAs,
/// NetworkPolicies, PVCs, Nodes and Namespaces are upserted by (user, cluster, namespace, name, kind) keeping the
/// user's tags, notes and favourite; status changes are recorded in the history and published; objects not seen any
/// more are marked deleted. Objects a workflow deployed (its <c>kubeorch.io/workflow</c> label) are linked to it.
/// One sync per user at a time (<c>delivery.resource_syncs</c>).
/// </summary>
public static class ResourceSync
{
    private const string Upsert = """
        INSERT INTO delivery.resources AS r (id, user_id, cluster_id, cluster_name, namespace, name, kind, api_version, uid, resource_version, status,
            labels, annotations, owner_references, spec, state, metadata, workflow_id, workflow_name, created_at, first_discovered_at, last_synced_at, last_seen_at)
        VALUES (@Id, @UserId, @ClusterId, @ClusterName, @Namespace, @Name, @Kind, @ApiVersion, @Uid, @ResourceVersion, @Status,
            CAST(@Labels AS jsonb), CAST(@Annotations AS jsonb), CAST(@OwnerReferences AS jsonb), CAST(@Spec AS jsonb), CAST(@State AS jsonb), CAST(@Metadata AS jsonb),
            @WorkflowId, @WorkflowName, @CreatedAt, @Now, @Now, @Now)
        ON CONFLICT (user_id, cluster_name, namespace, name, kind) DO UPDATE SET
            cluster_id = EXCLUDED.cluster_id, api_version = EXCLUDED.api_version, uid = EXCLUDED.uid, resource_version = EXCLUDED.resource_version,
            status = EXCLUDED.status, labels = EXCLUDED.labels, annotations = EXCLUDED.annotations, owner_references = EXCLUDED.owner_references,
            spec = EXCLUDED.spec, state = EXCLUDED.state, metadata = EXCLUDED.metadata,
            workflow_id = COALESCE(EXCLUDED.workflow_id, r.workflow_id), workflow_name = COALESCE(EXCLUDED.workflow_name, r.workflow_name),
            created_at = EXCLUDED.created_at, last_synced_at = EXCLUDED.last_synced_at, last_seen_at = EXCLUDED.last_seen_at, deleted_at = NULL
        RETURNING r.id, (xmax = 0) AS inserted
        """;

    private sealed class Upserted
    {
        public Guid Id { get; init; }

        public bool Inserted { get; init; }
    }

    /// <summary>Marks a sync as running for the user; false when one is already running (started in the last ten
    /// minutes).</summary>
    public static async Task<bool> TryBeginAsync(DbSession db, Guid userId, CancellationToken cancellationToken) =>
        await db.ExecuteScalarAsync<Guid?>(
            """
            INSERT INTO delivery.resource_syncs (user_id, status, started_at) VALUES (@UserId, 'running', now())
            ON CONFLICT (user_id) DO UPDATE SET status = 'running', started_at = now(), completed_at = NULL, clusters = 0, resources = 0, error = NULL
            WHERE delivery.resource_syncs.status <> 'running' OR delivery.resource_syncs.started_at < now() - interval '10 minutes'
            RETURNING user_id
            """,
            new { UserId = userId },
            cancellationToken) is not null;

    /// <summary>Runs the sync (after <see cref="TryBeginAsync"/>) in the given scope.</summary>
    public static async Task RunAsync(IServiceProvider services, Guid userId, bool manageAll, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<DbSession>();
        var directory = services.GetRequiredService<ClusterDirectory>();
        var hub = services.GetRequiredService<EventHub>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Capstan.Delivery.ResourceSync");
        var errors = new List<string>();
        long synced = 0;
        var visible = (await db.QueryAsync<Guid>($"SELECT c.id FROM clusters.clusters c WHERE {ClusterDirectory.Visible}", new { Manage = manageAll, UserId = userId }, cancellationToken)).ToHashSet();
        var clusters = (await directory.AllAsync(cancellationToken)).Where(cluster => visible.Contains(cluster.Id)).ToList();
        var workflows = (await db.QueryAsync<(Guid Id, string Name)>("SELECT id, name FROM delivery.workflows WHERE owner_id = @UserId AND deleted_at IS NULL", new { UserId = userId }, cancellationToken))
            .ToDictionary(workflow => workflow.Id.ToString(), workflow => workflow);
        foreach (var cluster in clusters)
        {
            try
            {
                synced += await SyncClusterAsync(db, directory.Connect(cluster), cluster, userId, workflows, hub, cancellationToken);
            }
            catch (ApiException exception)
            {
                logger.LogWarning("Resource sync of cluster {Cluster} for {User} failed: {Reason}", cluster.Name, userId, exception.Message);
                errors.Add($"{cluster.Name}: {exception.Message}");
            }
        }

        await db.ExecuteAsync(
            "UPDATE delivery.resource_syncs SET status = @Status, completed_at = now(), clusters = @Clusters, resources = @Resources, error = @Error WHERE user_id = @UserId",
            new { UserId = userId, Status = errors.Count == clusters.Count && clusters.Count > 0 ? "failed" : "completed", Clusters = clusters.Count, Resources = synced, Error = errors.Count > 0 ? string.Join("; ", errors) : null },
            cancellationToken);
    }

    private static async Task<long> SyncClusterAsync(
        DbSession db, KubernetesClient client, RegisteredCluster cluster, Guid userId, Dictionary<string, (Guid Id, string Name)> workflows, EventHub hub, CancellationToken cancellationToken)
    {
        // Listed before anything is written: an unreachable cluster changes nothing.
        var listed = new List<(KubernetesResourceType Type, JsonObject Object)>();
        foreach (var type in DeliveryKinds.Synced)
        {
            try
            {
                listed.AddRange((await client.ListAllAsync(type, null, null, cancellationToken)).Items.Select(item => (type, item)));
            }
            catch (KubernetesApiException exception) when (exception.IsNotFound || exception.StatusCode == 403)
            {
                // A kind this cluster does not serve, or one we may not list: skip it.
            }
        }

        var started = DateTime.UtcNow;
        var changes = new List<(Guid Id, string Kind, string Status)>();
        await db.BeginAsync(cancellationToken);
        try
        {
            var previous = (await db.QueryAsync<(string Namespace, string Name, string Kind, string Status)>(
                    "SELECT namespace, name, kind, status FROM delivery.resources WHERE user_id = @UserId AND cluster_name = @Cluster",
                    new { UserId = userId, Cluster = cluster.Name },
                    cancellationToken))
                .ToDictionary(row => (row.Namespace, row.Name, row.Kind), row => row.Status);
            foreach (var (type, obj) in listed)
            {
                var metadata = obj["metadata"] as JsonObject ?? [];
                var ns = NodeData.Text(metadata["namespace"]) ?? string.Empty;
                var name = NodeData.Text(metadata["name"]) ?? string.Empty;
                var kind = type.Kind!;
                var status = ObjectStatus.ResourceStatus(kind, obj);
                var labels = metadata["labels"] as JsonObject ?? [];
                var annotations = (metadata["annotations"] as JsonObject)?.DeepClone() as JsonObject ?? [];
                annotations.Remove("kubectl.kubernetes.io/last-applied-configuration");
                var workflow = NodeData.Text(labels[ManifestRenderer.WorkflowLabel]) is { } workflowId && workflows.TryGetValue(workflowId, out var owned) ? owned : ((Guid Id, string Name)?)null;
                var row = await db.QuerySingleAsync<Upserted>(Upsert, new
                {
                    Id = Guid.CreateVersion7(),
                    UserId = userId,
                    ClusterId = cluster.Id,
                    ClusterName = cluster.Name,
                    Namespace = ns,
                    Name = name,
                    Kind = kind,
                    ApiVersion = type.ApiVersion,
                    Uid = NodeData.Text(metadata["uid"]),
                    ResourceVersion = NodeData.Text(metadata["resourceVersion"]),
                    Status = status,
                    Labels = labels.ToJsonString(),
                    Annotations = annotations.ToJsonString(),
                    OwnerReferences = (metadata["ownerReferences"] as JsonArray ?? []).ToJsonString(),
                    Spec = Spec(kind, obj).ToJsonString(),
                    State = (kind is "Secret" or "ConfigMap" ? new JsonObject() : obj["status"] as JsonObject ?? []).ToJsonString(),
                    Metadata = new JsonObject
                    {
                        ["generation"] = metadata["generation"]?.DeepClone(),
                        ["finalizers"] = metadata["finalizers"]?.DeepClone(),
                    }.ToJsonString(),
                    WorkflowId = workflow?.Id,
                    WorkflowName = workflow?.Name,
                    CreatedAt = DateTime.TryParse(NodeData.Text(metadata["creationTimestamp"]), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AdjustToUniversal | System.Globalization.DateTimeStyles.AssumeUniversal, out var created) ? created : (DateTime?)null,
                    Now = started,
                }, cancellationToken);
                var before = previous.GetValueOrDefault((ns, name, kind));
                if (row.Inserted || before != status)
                {
                    await History(db, row.Id, userId, row.Inserted ? "created" : "status_changed", before, status, row.Inserted ? $"{kind} discovered" : $"Status changed from {before} to {status}", cancellationToken);
                    changes.Add((row.Id, kind, status));
                }
            }

            var gone = await db.QueryAsync<(Guid Id, string Kind, string Status)>(
                """
                UPDATE delivery.resources r SET deleted_at = now(), status = 'deleted'
                FROM (SELECT id, status FROM delivery.resources WHERE user_id = @UserId AND cluster_name = @Cluster AND last_seen_at < @Started AND deleted_at IS NULL FOR UPDATE) old
                WHERE r.id = old.id
                RETURNING r.id, r.kind, old.status
                """,
                new { UserId = userId, Cluster = cluster.Name, Started = started },
                cancellationToken);
            foreach (var (id, kind, status) in gone)
            {
                await History(db, id, userId, "deleted", status, "deleted", $"{kind} no longer exists in the cluster", cancellationToken);
                changes.Add((id, kind, "deleted"));
            }

            await db.CommitAsync(cancellationToken);
        }
        catch
        {
            await db.RollbackAsync();
            throw;
        }

        foreach (var (id, kind, status) in changes)
        {
            await hub.PublishAsync(DeliveryEvents.ResourceTopic(id), new JsonObject { ["resource_id"] = id.ToString(), ["type"] = kind, ["status"] = status }, cancellationToken);
        }

        return listed.Count;
    }

    /// <summary>What is kept of an object's spec: all of it, except that Secrets keep their type and key names and
    /// ConfigMaps their key names.</summary>
    private static JsonObject Spec(string kind, JsonObject obj) => kind switch
    {
        "Secret" => new JsonObject
        {
            ["type"] = NodeData.Text(obj["type"]),
            ["keys"] = new JsonArray([.. (obj["data"] as JsonObject ?? []).Select(pair => (JsonNode)pair.Key)]),
        },
        "ConfigMap" => new JsonObject { ["keys"] = new JsonArray([.. (obj["data"] as JsonObject ?? []).Select(pair => (JsonNode)pair.Key)]) },
        _ => obj["spec"]?.DeepClone() as JsonObject ?? [],
    };

    private static Task History(DbSession db, Guid resourceId, Guid userId, string action, string? oldStatus, string? newStatus, string message, CancellationToken cancellationToken) =>
        db.ExecuteAsync(
            """
            INSERT INTO delivery.resource_history (id, resource_id, user_id, action, old_status, new_status, message, created_at)
            VALUES (@Id, @ResourceId, @UserId, @Action, @OldStatus, @NewStatus, @Message, now())
            """,
            new { Id = Guid.CreateVersion7(), ResourceId = resourceId, UserId = userId, Action = action, OldStatus = oldStatus, NewStatus = newStatus, Message = message },
            cancellationToken);
}
