using System.Text.Json.Serialization;

namespace Capstan.Features.Fleet.Extensions;

/// <summary>An extension of the registry as the upstream's console reads it: the raw row in snake_case (reference
/// sindri.md §3.4, §8.11) plus <c>install_count</c>, its active installs.</summary>
public sealed record ExtensionView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("display_name")] string DisplayName,
    [property: JsonPropertyName("description")] string Description,
    [property: JsonPropertyName("category")] string Category,
    [property: JsonPropertyName("version")] string Version,
    [property: JsonPropertyName("author")] string? Author,
    [property: JsonPropertyName("license")] string? License,
    [property: JsonPropertyName("homepage_url")] string? HomepageUrl,
    [property: JsonPropertyName("icon_url")] string? IconUrl,
    [property: JsonPropertyName("tags")] string[] Tags,
    [property: JsonPropertyName("dependencies")] string[] Dependencies,
    [property: JsonPropertyName("scope")] string Scope,
    [property: JsonPropertyName("is_official")] bool IsOfficial,
    [property: JsonPropertyName("is_deprecated")] bool IsDeprecated,
    [property: JsonPropertyName("download_count")] long DownloadCount,
    [property: JsonPropertyName("install_count")] long InstallCount,
    [property: JsonPropertyName("published_by")] Guid? PublishedBy,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt);

internal sealed record ExtensionRow
{
    /// <summary>The columns of an extension aliased <c>e</c>, with its active installs.</summary>
    public const string Columns = """
        e.id, e.name, e.display_name, e.description, e.category, e.version, e.author, e.license, e.homepage_url, e.icon_url, e.tags,
        e.dependencies, e.scope, e.is_official, e.is_deprecated, e.download_count, e.published_by, e.created_at, e.updated_at,
        (SELECT count(*) FROM fleet.extension_usages u WHERE u.extension_id = e.id AND u.removed_at IS NULL AND NOT u.failed) AS install_count
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string DisplayName { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public string Category { get; init; } = string.Empty;

    public string Version { get; init; } = string.Empty;

    public string? Author { get; init; }

    public string? License { get; init; }

    public string? HomepageUrl { get; init; }

    public string? IconUrl { get; init; }

    public string[] Tags { get; init; } = [];

    public string[] Dependencies { get; init; } = [];

    public string Scope { get; init; } = string.Empty;

    public bool IsOfficial { get; init; }

    public bool IsDeprecated { get; init; }

    public long DownloadCount { get; init; }

    public long InstallCount { get; init; }

    public Guid? PublishedBy { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public ExtensionView ToView() => new(
        Id, Name, DisplayName, Description, Category, Version, Author, License, HomepageUrl, IconUrl, Tags, Dependencies, Scope, IsOfficial,
        IsDeprecated, DownloadCount, InstallCount, PublishedBy, CreatedAt, UpdatedAt);
}

/// <summary>An update policy (snake_case like the upstream's raw rows): global when neither <c>team_id</c> nor
/// <c>instance_id</c> is set.</summary>
public sealed record PolicyView(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("extension_id")] Guid ExtensionId,
    [property: JsonPropertyName("team_id")] Guid? TeamId,
    [property: JsonPropertyName("instance_id")] Guid? InstanceId,
    [property: JsonPropertyName("scope")] string Scope,
    [property: JsonPropertyName("policy")] string Policy,
    [property: JsonPropertyName("pinned_version")] string? PinnedVersion,
    [property: JsonPropertyName("created_by")] Guid? CreatedBy,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt,
    [property: JsonPropertyName("extension")] PolicyExtension Extension);

public sealed record PolicyExtension(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("display_name")] string DisplayName,
    [property: JsonPropertyName("version")] string Version);

internal sealed record PolicyRow
{
    /// <summary>A policy aliased <c>p</c> joined with its extension <c>e</c>.</summary>
    public const string Columns = """
        p.id, p.extension_id, p.team_id, p.instance_id, p.policy, p.pinned_version, p.created_by, p.created_at, p.updated_at,
        e.name AS extension_name, e.display_name AS extension_display_name, e.version AS extension_version
        """;

    public Guid Id { get; init; }

    public Guid ExtensionId { get; init; }

    public Guid? TeamId { get; init; }

    public Guid? InstanceId { get; init; }

    public string Policy { get; init; } = string.Empty;

    public string? PinnedVersion { get; init; }

    public Guid? CreatedBy { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public string ExtensionName { get; init; } = string.Empty;

    public string ExtensionDisplayName { get; init; } = string.Empty;

    public string ExtensionVersion { get; init; } = string.Empty;

    public string ScopeName => InstanceId is not null ? "instance" : TeamId is not null ? "team" : "global";

    public PolicyView ToView() => new(
        Id, ExtensionId, TeamId, InstanceId, ScopeName, Policy, PinnedVersion, CreatedBy, CreatedAt, UpdatedAt,
        new PolicyExtension(ExtensionId, ExtensionName, ExtensionDisplayName, ExtensionVersion));
}

/// <summary>The registry's vocabularies and input rules (reference sindri.md §8.11).</summary>
internal static class ExtensionRules
{
    public const string NamePattern = "^[a-z0-9_-]+$";

    public const string VersionPattern = @"^\d+\.\d+\.\d+([-+][0-9A-Za-z.+-]*)?$";

    public static readonly string[] Scopes = ["PUBLIC", "PRIVATE", "INTERNAL"];

    public static readonly string[] Policies = ["AUTO_UPDATE", "PIN", "FREEZE"];

    public static bool IsUrl(string? value) =>
        value is null || (Uri.TryCreate(value, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https");
}
