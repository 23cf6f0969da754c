using System.Text.Json;

namespace Capstan.Features.Fleet.Logs;

/// <summary>A log line as seed 004's clients read it (reference sindri.md §8.5).</summary>
public sealed record LogView(Guid Id, Guid InstanceId, string Level, string Source, string Message, JsonElement? Metadata, Guid? DeploymentId, DateTime Timestamp);

/// <summary>A log row as <see cref="Columns"/> selects it.</summary>
internal sealed record LogRow
{
    public const string Columns = "l.id, l.instance_id, l.level, l.source, l.message, l.metadata::text AS metadata, l.deployment_id, l.logged_at";

    public Guid Id { get; init; }

    public Guid InstanceId { get; init; }

    public string Level { get; init; } = string.Empty;

    public string Source { get; init; } = string.Empty;

    public string Message { get; init; } = string.Empty;

    public string? Metadata { get; init; }

    public Guid? DeploymentId { get; init; }

    public DateTime LoggedAt { get; init; }

    public LogView ToView() => new(Id, InstanceId, Level, Source, Message, FleetVocabulary.Json(Metadata), DeploymentId, LoggedAt);
}
