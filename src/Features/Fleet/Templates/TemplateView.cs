namespace Capstan.Features.Fleet.Templates;

/// <summary>A deployment template as seed 004's clients read it (reference sindri.md §8.8).</summary>
public sealed record TemplateView
{
    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Slug { get; init; } = string.Empty;

    public string Category { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public string YamlContent { get; init; } = string.Empty;

    public string[] Extensions { get; init; } = [];

    public string[] ProviderRecommendations { get; init; } = [];

    public bool IsOfficial { get; init; }

    public Guid? CreatedBy { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }
}

internal static class TemplateColumns
{
    public const string All = """
        t.id, t.name, t.slug, t.category, t.description, t.yaml_content, t.extensions, t.provider_recommendations, t.is_official, t.created_by,
        t.created_at, t.updated_at
        """;
}
