using System.Text.Json.Nodes;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Delivery;

public sealed class BuildRow
{
    public Guid Id { get; init; }

    public Guid UserId { get; init; }

    public Guid? WorkflowId { get; init; }

    public Guid? ClusterId { get; init; }

    public string ClusterName { get; init; } = string.Empty;

    public string Namespace { get; init; } = string.Empty;

    public string JobName { get; init; } = string.Empty;

    public string RepoUrl { get; init; } = string.Empty;

    public string Branch { get; init; } = string.Empty;

    public string? CommitSha { get; init; }

    public string BuildContext { get; init; } = ".";

    public string? Dockerfile { get; init; }

    public string BuildArgs { get; init; } = "{}";

    public bool UseNixpacks { get; init; }

    public Guid? RegistryId { get; init; }

    public string ImageName { get; init; } = string.Empty;

    public string ImageTag { get; init; } = string.Empty;

    public string ImageRef { get; init; } = string.Empty;

    public string Status { get; init; } = string.Empty;

    public string CurrentStage { get; init; } = string.Empty;

    public long Progress { get; init; }

    public string? FinalImageRef { get; init; }

    public string? ImageDigest { get; init; }

    public long? ImageSize { get; init; }

    public string? ErrorMessage { get; init; }

    public string? ErrorStage { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime? StartedAt { get; init; }

    public DateTime? CompletedAt { get; init; }

    public long? DurationMs { get; init; }

    public bool IsTerminal => Status is "completed" or "failed" or "cancelled";
}

/// <summary>A build as KubeOrch's clients read it (camelCase, reference §2 <c>builds</c>).</summary>
public sealed record BuildView(
    Guid Id,
    Guid? WorkflowId,
    Guid UserId,
    string RepoUrl,
    string Branch,
    string? CommitSha,
    string BuildContext,
    string? Dockerfile,
    JsonNode? BuildArgs,
    bool UseNixpacks,
    Guid? RegistryId,
    string ImageName,
    string ImageTag,
    string ImageRef,
    string Status,
    string CurrentStage,
    long Progress,
    string? FinalImageRef,
    string? ImageDigest,
    long? ImageSize,
    string? ErrorMessage,
    string? ErrorStage,
    string ClusterName,
    string Namespace,
    string JobName,
    DateTime CreatedAt,
    DateTime? StartedAt,
    DateTime? CompletedAt,
    long? Duration);

public static class BuildRecords
{
    public const string Columns = """
        b.id, b.user_id, b.workflow_id, b.cluster_id, b.cluster_name, b.namespace, b.job_name, b.repo_url, b.branch, b.commit_sha, b.build_context,
        b.dockerfile, b.build_args::text AS build_args, b.use_nixpacks, b.registry_id, b.image_name, b.image_tag, b.image_ref, b.status, b.current_stage,
        b.progress, b.final_image_ref, b.image_digest, b.image_size, b.error_message, b.error_stage, b.created_at, b.started_at, b.completed_at, b.duration_ms
        """;

    public static async Task<BuildRow> GetOwnedAsync(DbSession db, Guid id, Guid userId, CancellationToken cancellationToken, bool forUpdate = false) =>
        await db.QuerySingleOrDefaultAsync<BuildRow>(
            $"SELECT {Columns} FROM delivery.builds b WHERE b.id = @Id AND b.user_id = @UserId{(forUpdate ? " FOR UPDATE" : string.Empty)}",
            new { Id = id, UserId = userId },
            cancellationToken)
        ?? throw new NotFoundException("Build not found");

    public static BuildView View(BuildRow row) => new(
        row.Id, row.WorkflowId, row.UserId, row.RepoUrl, row.Branch, row.CommitSha, row.BuildContext, row.Dockerfile, JsonNode.Parse(row.BuildArgs), row.UseNixpacks,
        row.RegistryId, row.ImageName, row.ImageTag, row.ImageRef, row.Status, row.CurrentStage, row.Progress, row.FinalImageRef, row.ImageDigest, row.ImageSize,
        row.ErrorMessage, row.ErrorStage, row.ClusterName, row.Namespace, row.JobName, row.CreatedAt, row.StartedAt, row.CompletedAt, row.DurationMs);
}
