using System.Text.Json.Serialization;

namespace Capstan.Features.Fleet.Deployments;

/// <summary>A deployment as the upstream's deployment wizard reads it: snake_case (reference sindri.md §3.4, §8.8).</summary>
public sealed record DeploymentView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("instance_id")] Guid? InstanceId,
    [property: JsonPropertyName("template_id")] Guid? TemplateId,
    [property: JsonPropertyName("config_hash")] string ConfigHash,
    [property: JsonPropertyName("yaml_content")] string YamlContent,
    [property: JsonPropertyName("provider")] string Provider,
    [property: JsonPropertyName("region")] string? Region,
    [property: JsonPropertyName("vm_size")] string VmSize,
    [property: JsonPropertyName("memory_gb")] long MemoryGb,
    [property: JsonPropertyName("storage_gb")] long StorageGb,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("progress_percent")] long ProgressPercent,
    [property: JsonPropertyName("initiated_by")] Guid? InitiatedBy,
    [property: JsonPropertyName("started_at")] DateTime StartedAt,
    [property: JsonPropertyName("completed_at")] DateTime? CompletedAt,
    [property: JsonPropertyName("logs")] string? Logs,
    [property: JsonPropertyName("error")] string? Error);

/// <summary>The upstream's envelope: <c>{deployment: {...}}</c>.</summary>
public sealed record DeploymentEnvelope([property: JsonPropertyName("deployment")] DeploymentView Deployment);

internal sealed record DeploymentRow
{
    public const string Columns = """
        d.id, d.name, d.instance_id, d.template_id, d.config_hash, d.yaml_content, d.provider, d.region, d.vm_size, d.memory_gb, d.storage_gb,
        d.status, d.progress_percent, d.initiated_by, d.started_at, d.completed_at, d.logs, d.error
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public Guid? InstanceId { get; init; }

    public Guid? TemplateId { get; init; }

    public string ConfigHash { get; init; } = string.Empty;

    public string YamlContent { get; init; } = string.Empty;

    public string Provider { get; init; } = string.Empty;

    public string? Region { get; init; }

    public string VmSize { get; init; } = string.Empty;

    public long MemoryGb { get; init; }

    public long StorageGb { get; init; }

    public string Status { get; init; } = string.Empty;

    public long ProgressPercent { get; init; }

    public Guid? InitiatedBy { get; init; }

    public DateTime StartedAt { get; init; }

    public DateTime? CompletedAt { get; init; }

    public string? Logs { get; init; }

    public string? Error { get; init; }

    public DeploymentView ToView() => new(
        Id, Name, InstanceId, TemplateId, ConfigHash, YamlContent, Provider, Region, VmSize, MemoryGb, StorageGb, Status, ProgressPercent, InitiatedBy,
        StartedAt, CompletedAt, Logs, Error);
}
