using System.Text.Json;

namespace Capstan.Features.Access;

/// <summary>JSON columns (read as text) become JSON values in responses, and back.</summary>
internal static class AccessJson
{
    public static JsonElement Parse(string? json, string fallback = "{}") =>
        JsonDocument.Parse(string.IsNullOrEmpty(json) ? fallback : json).RootElement.Clone();

    /// <summary>The text of an optional JSON body value, or <paramref name="fallback"/> when it is absent or null.</summary>
    public static string TextOf(JsonElement? value, string fallback = "{}") =>
        value is { ValueKind: not JsonValueKind.Undefined and not JsonValueKind.Null } element ? element.GetRawText() : fallback;

    public static bool IsObjectOrAbsent(JsonElement? value) =>
        value is null || value.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined;

    /// <summary>An object whose every value is a string (labels, selectors).</summary>
    public static bool IsStringMap(JsonElement? value) =>
        value is null || value.Value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined
        || (value.Value.ValueKind == JsonValueKind.Object && value.Value.EnumerateObject().All(property => property.Value.ValueKind == JsonValueKind.String));

    public static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    public static string[] StringArray(string? json) => JsonSerializer.Deserialize<string[]>(string.IsNullOrEmpty(json) ? "[]" : json) ?? [];

    public static string ToJson<T>(T value) => JsonSerializer.Serialize(value);
}
