using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Features.Access.Requests;
using Capstan.Infrastructure.Errors;

namespace Capstan.Features.Access.Policies;

/// <summary>A policy rule as the policy routes return it (seed 003, snake_case).</summary>
public sealed record PolicyBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("selector")] JsonElement Selector,
    [property: JsonPropertyName("workflow_id")] Guid WorkflowId,
    [property: JsonPropertyName("priority")] long Priority,
    [property: JsonPropertyName("enabled")] bool Enabled,
    [property: JsonPropertyName("is_system")] bool IsSystem,
    [property: JsonPropertyName("direct_reveal_allowed")] bool DirectRevealAllowed,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt);

internal sealed class PolicyRow
{
    public const string Columns = """
        id, name, selector::text AS selector, workflow_id, priority, enabled, is_system, direct_reveal_allowed, created_at, updated_at
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Selector { get; init; } = "{}";

    public Guid WorkflowId { get; init; }

    public long Priority { get; init; }

    public bool Enabled { get; init; }

    public bool IsSystem { get; init; }

    public bool DirectRevealAllowed { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public PolicyBody ToBody() => new(Id, Name, AccessJson.Parse(Selector), WorkflowId, Priority, Enabled, IsSystem, DirectRevealAllowed, CreatedAt, UpdatedAt);
}

/// <summary>Selector rules shared by create and update: an object of strings over the scope keys the policy engine
/// knows, and the PROD invariant (a rule pinned to prod environments may not allow a direct reveal).</summary>
internal static class PolicySelectors
{
    public static string? Problem(JsonElement? selector)
    {
        if (selector is null || selector.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return null;
        }

        if (!AccessJson.IsStringMap(selector))
        {
            return "selector must be an object of strings";
        }

        var unknown = selector.Value.EnumerateObject().Select(entry => entry.Name).FirstOrDefault(name => !PolicyEngine.SelectorKeys.Contains(name));
        return unknown is null ? null : $"selector key '{unknown}' is not one of: {string.Join(", ", PolicyEngine.SelectorKeys)}";
    }

    public static void EnforceProdInvariant(string selectorJson, bool directRevealAllowed)
    {
        using var selector = JsonDocument.Parse(selectorJson);
        if (directRevealAllowed && selector.RootElement.TryGetProperty("environment_kind", out var kind) && kind.ValueKind == JsonValueKind.String && kind.GetString() == "prod")
        {
            throw BadRequestException.ForField("direct_reveal_allowed", "direct reveal is never allowed on prod environments");
        }
    }
}
