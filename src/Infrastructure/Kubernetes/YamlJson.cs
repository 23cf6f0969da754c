using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>
/// YAML to JSON and back, the way Kubernetes reads manifests: plain scalars are typed by the YAML 1.2 core schema
/// (<c>true</c>, <c>null</c>, <c>42</c>, <c>1.5</c>), quoted scalars stay strings, several documents per stream.
/// Input is bounded (depth and node count), so alias bombs and deep nesting are refused instead of expanded.
/// </summary>
public static partial class YamlJson
{
    private const int MaxDepth = 64;
    private const int MaxNodes = 2_000_000;

    /// <summary>Every non-empty document of <paramref name="yaml"/> as JSON (a stream of JSON is valid YAML too).</summary>
    /// <exception cref="FormatException">The text is not YAML, or is too deep or too large.</exception>
    public static IReadOnlyList<JsonNode?> ParseAll(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException exception)
        {
            throw new FormatException($"Invalid YAML at line {exception.Start.Line}, column {exception.Start.Column}: {FirstLine(exception.Message)}", exception);
        }
        catch (Exception exception) when (exception is InvalidOperationException or ArgumentException)
        {
            // The scanner gives up on some malformed input without a position.
            throw new FormatException("Invalid YAML: the document could not be read (check indentation, brackets and quotes)", exception);
        }

        var budget = new Budget();
        var documents = new List<JsonNode?>();
        foreach (var document in stream.Documents)
        {
            if (document.RootNode is YamlScalarNode { Value: null or "" } && document.RootNode.Tag.IsEmpty)
            {
                continue;
            }

            documents.Add(Convert(document.RootNode, 0, budget));
        }

        return documents;
    }

    /// <summary>The single document of <paramref name="yaml"/>; none or several is a <see cref="FormatException"/>.</summary>
    public static JsonNode? Parse(string yaml)
    {
        var documents = ParseAll(yaml);
        return documents.Count switch
        {
            1 => documents[0],
            0 => throw new FormatException("The YAML document is empty"),
            _ => throw new FormatException($"Expected one YAML document, found {documents.Count}"),
        };
    }

    /// <summary>The single document as a JSON object; anything else is a <see cref="FormatException"/>.</summary>
    public static JsonObject ParseObject(string yaml) =>
        Parse(yaml) as JsonObject ?? throw new FormatException("The YAML document is not a mapping");

    /// <summary>Block-style YAML for <paramref name="node"/>; strings that would read back as another type are quoted.</summary>
    public static string Serialize(JsonNode? node)
    {
        var document = new YamlDocument(ToYaml(node));
        var stream = new YamlStream(document);
        var writer = new StringWriter(CultureInfo.InvariantCulture);
        stream.Save(writer, assignAnchors: false);
        var text = writer.ToString();

        // YamlStream writes document markers; a single manifest reads better without them.
        if (text.EndsWith("...\n", StringComparison.Ordinal))
        {
            text = text[..^4];
        }

        return text.TrimEnd('\n') + "\n";
    }

    /// <summary>Several documents joined with <c>---</c>, as <c>kubectl</c> prints them.</summary>
    public static string SerializeAll(IEnumerable<JsonNode?> nodes) => string.Join("---\n", nodes.Select(Serialize));

    private static JsonNode? Convert(YamlNode node, int depth, Budget budget)
    {
        if (depth > MaxDepth)
        {
            throw new FormatException($"YAML nests deeper than {MaxDepth} levels");
        }

        if (++budget.Nodes > MaxNodes)
        {
            throw new FormatException("YAML document is too large (too many nodes after expanding aliases)");
        }

        switch (node)
        {
            case YamlMappingNode mapping:
                var obj = new JsonObject();
                foreach (var (key, value) in mapping.Children)
                {
                    var name = key is YamlScalarNode scalarKey ? scalarKey.Value ?? "null" : throw new FormatException("Only scalar mapping keys are supported");
                    if (name == "<<")
                    {
                        // Merge keys: copy the referenced mapping's entries that are not set here.
                        if (Convert(value, depth + 1, budget) is JsonObject merged)
                        {
                            foreach (var (mergedKey, mergedValue) in merged.ToList())
                            {
                                if (!obj.ContainsKey(mergedKey))
                                {
                                    merged.Remove(mergedKey);
                                    obj[mergedKey] = mergedValue;
                                }
                            }
                        }

                        continue;
                    }

                    obj[name] = Convert(value, depth + 1, budget);
                }

                return obj;
            case YamlSequenceNode sequence:
                var array = new JsonArray();
                foreach (var item in sequence.Children)
                {
                    array.Add(Convert(item, depth + 1, budget));
                }

                return array;
            case YamlScalarNode scalar:
                return Scalar(scalar);
            default:
                throw new FormatException("Unsupported YAML node");
        }
    }

    private static JsonNode? Scalar(YamlScalarNode scalar)
    {
        var value = scalar.Value ?? string.Empty;
        var tag = scalar.Tag.IsEmpty ? null : scalar.Tag.Value;
        if (tag is "tag:yaml.org,2002:str" || (tag is null && scalar.Style is not ScalarStyle.Plain and not ScalarStyle.Any))
        {
            return JsonValue.Create(value);
        }

        if (tag is "tag:yaml.org,2002:null" || IsNull(value))
        {
            return null;
        }

        if (IsTrue(value))
        {
            return JsonValue.Create(true);
        }

        if (IsFalse(value))
        {
            return JsonValue.Create(false);
        }

        if (DecimalInteger().IsMatch(value) && long.TryParse(value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var integer))
        {
            return JsonValue.Create(integer);
        }

        if (value.StartsWith("0x", StringComparison.Ordinal) && long.TryParse(value.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex))
        {
            return JsonValue.Create(hex);
        }

        if (value.StartsWith("0o", StringComparison.Ordinal) && value.Length > 2 && value[2..].All(c => c is >= '0' and <= '7'))
        {
            return JsonValue.Create(System.Convert.ToInt64(value[2..], 8));
        }

        if (Float().IsMatch(value) && decimal.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number))
        {
            return JsonValue.Create(number);
        }

        return JsonValue.Create(value);
    }

    private static YamlNode ToYaml(JsonNode? node)
    {
        switch (node)
        {
            case null:
                return new YamlScalarNode("null") { Style = ScalarStyle.Plain };
            case JsonObject obj:
                var mapping = new YamlMappingNode();
                foreach (var (key, value) in obj)
                {
                    mapping.Add(new YamlScalarNode(key) { Style = NeedsQuotes(key) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any }, ToYaml(value));
                }

                return mapping;
            case JsonArray array:
                var sequence = new YamlSequenceNode();
                foreach (var item in array)
                {
                    sequence.Add(ToYaml(item));
                }

                return sequence;
            case JsonValue value:
                switch (value.GetValueKind())
                {
                    case JsonValueKind.String:
                        var text = value.GetValue<string>();
                        var style = text.Contains('\n', StringComparison.Ordinal) && !text.Contains('\r', StringComparison.Ordinal) && !HasTrailingSpaces(text)
                            ? ScalarStyle.Literal
                            : NeedsQuotes(text) ? ScalarStyle.DoubleQuoted : ScalarStyle.Any;
                        return new YamlScalarNode(text) { Style = style };
                    case JsonValueKind.True:
                        return new YamlScalarNode("true") { Style = ScalarStyle.Plain };
                    case JsonValueKind.False:
                        return new YamlScalarNode("false") { Style = ScalarStyle.Plain };
                    case JsonValueKind.Number:
                        return new YamlScalarNode(value.ToJsonString()) { Style = ScalarStyle.Plain };
                    default:
                        return new YamlScalarNode("null") { Style = ScalarStyle.Plain };
                }

            default:
                return new YamlScalarNode(node.ToJsonString()) { Style = ScalarStyle.DoubleQuoted };
        }
    }

    // A plain scalar that would read back as null, a boolean or a number (or is otherwise ambiguous) is quoted.
    private static bool NeedsQuotes(string text) =>
        text.Length == 0 || IsNull(text) || IsTrue(text) || IsFalse(text) || DecimalInteger().IsMatch(text) || Float().IsMatch(text)
        || text.StartsWith("0x", StringComparison.Ordinal) || text.StartsWith("0o", StringComparison.Ordinal)
        || Ambiguous().IsMatch(text);

    private static bool HasTrailingSpaces(string text) => text.Split('\n').Any(line => line.EndsWith(' ') || line.EndsWith('\t'));

    private static bool IsNull(string value) => value is "" or "~" or "null" or "Null" or "NULL";

    private static bool IsTrue(string value) => value is "true" or "True" or "TRUE";

    private static bool IsFalse(string value) => value is "false" or "False" or "FALSE";

    private static string FirstLine(string message) => message.Split('\n')[0].Trim();

    [GeneratedRegex("^[-+]?[0-9]+$")]
    private static partial Regex DecimalInteger();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")]
    private static partial Regex Float();

    // YAML 1.1 booleans and other readers' specials (yes/no/on/off), and text starting with an indicator.
    [GeneratedRegex(@"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|\.inf|\.nan|[-+]\.inf)$|^[\s\-?:,\[\]{}#&*!|>'""%@`]|\s$|: | #")]
    private static partial Regex Ambiguous();

    private sealed class Budget
    {
        public int Nodes { get; set; }
    }
}
