using System.Text.Json.Serialization;

namespace Capstan.Features.Access.Projects;

/// <summary>A project as the tenancy routes return it (seed 003, snake_case).</summary>
public sealed record ProjectBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("owner_team_id")] string? OwnerTeamId,
    [property: JsonPropertyName("status")] string Status,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt)
{
    public const string Columns = "id, name, owner_team_id, status, created_at, updated_at";
}

/// <summary>An environment: <c>type</c> as upstream, plus <c>kind</c> (non_prod/prod, fixed at creation) and
/// <c>risk_level</c> (0–4).</summary>
public sealed record EnvironmentBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("project_id")] Guid ProjectId,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("type")] string Type,
    [property: JsonPropertyName("kind")] string Kind,
    [property: JsonPropertyName("risk_level")] long RiskLevel,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt)
{
    public const string Columns = "id, project_id, name, type, kind, risk_level, description, created_at, updated_at";
}
