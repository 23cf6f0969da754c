using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// Reads a node's free-form <c>data</c> the way the canvas writes it: numbers may arrive as strings ("80"), lists as
/// arrays or comma-separated text, and keys in any case (<c>mountPath</c>, <c>MountPath</c>) — the upstream templates
/// expected one case and silently rendered nothing for the other. Exact keys win over case-insensitive matches.
/// </summary>
public sealed class NodeData(JsonObject data)
{
    public JsonObject Raw { get; } = data;

    public static NodeData Of(JsonNode? node) => new(node as JsonObject ?? []);

    public JsonNode? this[string key] => Find(Raw, key);

    public bool Has(string key) => this[key] is not null && !(this[key] is JsonValue value && value.GetValueKind() == JsonValueKind.String && value.GetValue<string>().Trim().Length == 0);

    public string? Str(string key) => Text(this[key]);

    public string StrOr(string key, string fallback) => Str(key) is { Length: > 0 } value ? value : fallback;

    public long? Long(string key) => Number(this[key]);

    public bool? Bool(string key) => Flag(this[key]);

    public JsonObject? Obj(string key) => this[key] as JsonObject;

    public NodeData Child(string key) => new(Obj(key) ?? []);

    public JsonArray? Arr(string key) => this[key] as JsonArray;

    /// <summary>A string list from an array of strings or a comma-separated string.</summary>
    public List<string> Strings(string key) => StringList(this[key]);

    /// <summary>A string map (values stringified); from an object or a list of <c>{name|key, value}</c> pairs.</summary>
    public List<KeyValuePair<string, string>> Map(string key) => StringMap(this[key]);

    public static JsonNode? Find(JsonObject obj, string key)
    {
        if (obj.TryGetPropertyValue(key, out var exact))
        {
            return exact;
        }

        foreach (var (name, value) in obj)
        {
            if (string.Equals(name, key, StringComparison.OrdinalIgnoreCase))
            {
                return value;
            }
        }

        return null;
    }

    public static string? Text(JsonNode? node) => node switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>().Trim() is { Length: > 0 } text ? text : null,
        JsonValue value when value.GetValueKind() is JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.ToJsonString(),
        _ => null,
    };

    /// <summary>A value as text without trimming (configuration values keep their spaces); objects as JSON.</summary>
    public static string RawText(JsonNode? node) => node switch
    {
        null => string.Empty,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        JsonValue value when value.GetValueKind() == JsonValueKind.Null => string.Empty,
        _ => node.ToJsonString(),
    };

    public static long? Number(JsonNode? node)
    {
        if (node is not JsonValue value)
        {
            return null;
        }

        switch (value.GetValueKind())
        {
            case JsonValueKind.Number:
                if (value.TryGetValue<long>(out var integer))
                {
                    return integer;
                }

                var real = value.GetValue<double>();
                return Math.Abs(real % 1) < double.Epsilon ? (long)real : null;
            case JsonValueKind.String:
                var text = value.GetValue<string>().Trim();
                return long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var parsed) ? parsed : null;
            default:
                return null;
        }
    }

    /// <summary>True when the value is present but is not a whole number (so validation can say so).</summary>
    public bool IsNotNumber(string key) => this[key] is { } node && Text(node) is not null && Number(node) is null;

    public static bool? Flag(JsonNode? node) => node switch
    {
        JsonValue value when value.GetValueKind() == JsonValueKind.True => true,
        JsonValue value when value.GetValueKind() == JsonValueKind.False => false,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>().Trim().ToLowerInvariant() switch
        {
            "true" or "yes" or "1" => true,
            "false" or "no" or "0" => false,
            _ => null,
        },
        _ => null,
    };

    public static List<string> StringList(JsonNode? node) => node switch
    {
        JsonArray array => [.. array.Select(Text).Where(item => item is not null).Select(item => item!)],
        JsonValue value when Text(value) is { } text => [.. text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)],
        _ => [],
    };

    public static List<KeyValuePair<string, string>> StringMap(JsonNode? node)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    if (key.Trim().Length > 0)
                    {
                        pairs.Add(new(key.Trim(), RawText(value)));
                    }
                }

                break;
            case JsonArray array:
                foreach (var item in array.OfType<JsonObject>())
                {
                    var name = Text(Find(item, "name")) ?? Text(Find(item, "key"));
                    if (name is not null)
                    {
                        pairs.Add(new(name, RawText(Find(item, "value"))));
                    }
                }

                break;
        }

        return pairs;
    }
}
