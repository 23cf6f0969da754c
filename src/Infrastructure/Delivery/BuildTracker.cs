using System.Text.Json.Nodes;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Kubernetes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// Follows a build's Job until it ends and records what happens: status, stage and progress on the build row, a
/// <c>progress</c> event per change and <c>complete</c>/<c>failed</c> at the end on <c>delivery.build.&lt;id&gt;</c>. On
/// success the linked workflow's deployments get the pushed image. The registry login Secret is deleted when the build
/// ends. Started by the build route; a recurring job resumes builds whose tracker stopped (a restarted replica).
/// </summary>
public static class BuildTracker
{
    private sealed class BuildState
    {
        public Guid Id { get; init; }

        public Guid UserId { get; init; }

        public Guid? WorkflowId { get; init; }

        public Guid? ClusterId { get; init; }

        public string Namespace { get; init; } = string.Empty;

        public string JobName { get; init; } = string.Empty;

        public string ImageRef { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;

        public string CurrentStage { get; init; } = string.Empty;

        public long Progress { get; init; }

        public string? CommitSha { get; init; }

        public DateTime CreatedAt { get; init; }

        public DateTime? StartedAt { get; init; }
    }

    /// <summary>Polls until the build ends or <paramref name="cancellationToken"/> fires.</summary>
    public static async Task TrackAsync(IServiceProvider services, Guid buildId, CancellationToken cancellationToken)
    {
        var settings = BuildSettings.From(services.GetRequiredService<IConfiguration>());
        var until = DateTime.UtcNow + settings.Deadline + TimeSpan.FromMinutes(5);
        while (!cancellationToken.IsCancellationRequested && DateTime.UtcNow < until)
        {
            if (await ObserveOnceAsync(services, buildId, cancellationToken))
            {
                return;
            }

            await Task.Delay(settings.PollInterval, cancellationToken);
        }
    }

    /// <summary>One look at the build's Job; true when the build has ended (now or before).</summary>
    public static async Task<bool> ObserveOnceAsync(IServiceProvider services, Guid buildId, CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<DbSession>();
        var hub = services.GetRequiredService<EventHub>();
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Capstan.Delivery.Builds");
        var build = await db.QuerySingleOrDefaultAsync<BuildState>(
            """
            SELECT id, user_id, workflow_id, cluster_id, namespace, job_name, image_ref, status, current_stage, progress, commit_sha, created_at, started_at
            FROM delivery.builds WHERE id = @Id
            """,
            new { Id = buildId },
            cancellationToken);
        if (build is null || build.Status is "completed" or "failed" or "cancelled")
        {
            return true;
        }

        var directory = services.GetRequiredService<ClusterDirectory>();
        var cluster = build.ClusterId is { } clusterId ? (await directory.AllAsync(cancellationToken)).FirstOrDefault(item => item.Id == clusterId) : null;
        BuildObservation observation;
        KubernetesClient? client = null;
        if (cluster is null)
        {
            observation = new BuildObservation("failed", "Failed", build.Progress, build.CommitSha, null, "The build's cluster was removed", build.Status);
        }
        else
        {
            try
            {
                client = directory.Connect(cluster);
                var job = await client.TryGetAsync(DeliveryKinds.Jobs, build.Namespace, build.JobName, cancellationToken);
                var pods = job is null
                    ? []
                    : KubernetesClient.ItemsOf(await client.ListAsync(KubernetesResourceType.Pods, build.Namespace, new ListOptions { LabelSelector = $"job-name={build.JobName}" }, cancellationToken));
                var pushing = false;
                var running = pods.FirstOrDefault(pod => (pod["status"]?["containerStatuses"] as JsonArray ?? []).OfType<JsonObject>()
                    .Any(status => status["name"]?.ToString() == ImageBuilds.BuildContainer && status["state"]?["running"] is not null));
                if (running is not null)
                {
                    var tail = await client.GetPodLogsAsync(build.Namespace, running["metadata"]!["name"]!.ToString(), new PodLogOptions { Container = ImageBuilds.BuildContainer, TailLines = 50 }, cancellationToken);
                    pushing = tail.Contains("Pushing image", StringComparison.OrdinalIgnoreCase) || tail.Contains("Pushed ", StringComparison.Ordinal);
                }

                observation = ImageBuilds.Observe(job, pods, pushing);
            }
            catch (ApiException exception) when (exception.StatusCode >= 500)
            {
                logger.LogWarning("Build {Build}: cluster not reachable ({Reason}); trying again", buildId, exception.Message);
                return false;
            }
        }

        if (observation.Status == build.Status && observation.Stage == build.CurrentStage && observation.Progress == build.Progress && observation.CommitSha == build.CommitSha)
        {
            await db.ExecuteAsync("UPDATE delivery.builds SET updated_at = now() WHERE id = @Id", new { Id = buildId }, cancellationToken);
            return false;
        }

        var now = DateTime.UtcNow;
        var finalRef = observation.Status == "completed"
            ? observation.Digest is { } digest ? StripTag(build.ImageRef) + "@" + digest : build.ImageRef
            : null;
        var changed = await db.ExecuteAsync(
            """
            UPDATE delivery.builds SET
                status = @Status, current_stage = @Stage, progress = @Progress, commit_sha = COALESCE(@Commit, commit_sha),
                started_at = COALESCE(started_at, CASE WHEN @Status <> 'pending' THEN @Now END),
                completed_at = CASE WHEN @Terminal THEN @Now END,
                duration_ms = CASE WHEN @Terminal THEN (EXTRACT(EPOCH FROM (@Now - created_at)) * 1000)::bigint END,
                final_image_ref = @FinalRef, image_digest = @Digest, error_message = @Error, error_stage = @ErrorStage, updated_at = @Now
            WHERE id = @Id AND status NOT IN ('completed', 'failed', 'cancelled')
            """,
            new
            {
                Id = buildId,
                observation.Status,
                observation.Stage,
                observation.Progress,
                Commit = observation.CommitSha,
                Now = now,
                Terminal = observation.IsTerminal,
                FinalRef = finalRef,
                observation.Digest,
                observation.Error,
                observation.ErrorStage,
            },
            cancellationToken);
        if (changed == 0)
        {
            return true;
        }

        var topic = DeliveryEvents.BuildTopic(buildId);
        await hub.PublishAsync(topic, DeliveryEvents.Frame("build", buildId, "progress", new JsonObject
        {
            ["status"] = observation.Status,
            ["current_stage"] = observation.Stage,
            ["progress"] = observation.Progress,
        }, now), cancellationToken);
        if (!observation.IsTerminal)
        {
            return false;
        }

        if (observation.Status == "completed")
        {
            if (build.WorkflowId is { } workflowId)
            {
                await UpdateWorkflowImageAsync(db, workflowId, build.UserId, build.ImageRef, finalRef!, cancellationToken);
            }

            await hub.PublishAsync(topic, DeliveryEvents.Frame("build", buildId, "complete", new JsonObject { ["final_image_ref"] = finalRef, ["image_digest"] = observation.Digest }, now), cancellationToken);
        }
        else
        {
            await hub.PublishAsync(topic, DeliveryEvents.Frame("build", buildId, "failed", new JsonObject { ["error_message"] = observation.Error, ["error_stage"] = observation.ErrorStage }, now), cancellationToken);
        }

        if (client is not null)
        {
            await DeleteLoginSecretAsync(client, build.Namespace, buildId, cancellationToken);
        }

        return true;
    }

    /// <summary>The registry login of a build is only needed while it pushes.</summary>
    public static async Task DeleteLoginSecretAsync(KubernetesClient client, string @namespace, Guid buildId, CancellationToken cancellationToken)
    {
        try
        {
            await ManifestApplier.DeleteAsync(client, "v1", "Secret", @namespace, ImageBuilds.SecretName(buildId), cancellationToken);
        }
        catch (ApiException)
        {
            // Best effort: the Job's TTL does not reach the Secret, but a failed delete must not fail the build.
        }
    }

    /// <summary>Points the workflow's deployments and statefulsets at the new image: those running the built repository,
    /// or (none does) every deployment, as the upstream did.</summary>
    public static async Task UpdateWorkflowImageAsync(DbSession db, Guid workflowId, Guid userId, string builtRef, string finalRef, CancellationToken cancellationToken)
    {
        var nodesJson = await db.ExecuteScalarAsync<string>(
            "SELECT nodes::text FROM delivery.workflows WHERE id = @Id AND owner_id = @UserId AND deleted_at IS NULL",
            new { Id = workflowId, UserId = userId },
            cancellationToken);
        if (nodesJson is null || JsonNode.Parse(nodesJson) is not JsonArray nodes)
        {
            return;
        }

        var repository = StripTag(builtRef);
        var workloads = nodes.OfType<JsonObject>()
            .Where(node => NodeData.Text(node["type"])?.ToLowerInvariant() is "deployment" or "statefulset" && node["data"] is JsonObject)
            .ToList();
        var matching = workloads.Where(node => NodeData.Text(node["data"]!["image"]) is { } image && SameRepository(StripTag(image), repository)).ToList();
        var targets = matching.Count > 0 ? matching : workloads.Where(node => NodeData.Text(node["type"])?.ToLowerInvariant() == "deployment").ToList();
        if (targets.Count == 0)
        {
            return;
        }

        foreach (var node in targets)
        {
            node["data"]!["image"] = finalRef;
        }

        await db.ExecuteAsync(
            "UPDATE delivery.workflows SET nodes = CAST(@Nodes AS jsonb), updated_at = now() WHERE id = @Id",
            new { Id = workflowId, Nodes = nodes.ToJsonString() },
            cancellationToken);
    }

    /// <summary><c>registry/name:tag@digest</c> → <c>registry/name</c> (a port in the host is kept).</summary>
    public static string StripTag(string image)
    {
        var withoutDigest = image.Split('@')[0];
        var slash = withoutDigest.LastIndexOf('/');
        var colon = withoutDigest.LastIndexOf(':');
        return colon > slash ? withoutDigest[..colon] : withoutDigest;
    }

    private static bool SameRepository(string a, string b) =>
        string.Equals(Normalize(a), Normalize(b), StringComparison.OrdinalIgnoreCase);

    private static string Normalize(string repository) =>
        repository.StartsWith("docker.io/", StringComparison.OrdinalIgnoreCase) ? repository[10..]
        : repository.StartsWith("index.docker.io/", StringComparison.OrdinalIgnoreCase) ? repository[16..]
        : repository;
}
