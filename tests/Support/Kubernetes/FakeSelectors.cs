using System.Text.Json.Nodes;

namespace Capstan.Tests.Support.Kubernetes;

/// <summary>Kubernetes label selectors (<c>a=b</c>, <c>a==b</c>, <c>a!=b</c>, <c>a</c>, <c>!a</c>, <c>a in (x,y)</c>,
/// <c>a notin (x)</c>) and field selectors (<c>path=value</c>, <c>path!=value</c>) with the per-kind field whitelist a
/// real API server enforces.</summary>
public static class FakeSelectors
{
    private static readonly string[] EventFields =
    [
        "involvedObject.kind", "involvedObject.namespace", "involvedObject.name", "involvedObject.uid", "involvedObject.apiVersion",
        "involvedObject.resourceVersion", "involvedObject.fieldPath", "reason", "reportingComponent", "source", "type",
    ];

    private static readonly string[] PodFields = ["status.phase", "spec.nodeName", "spec.restartPolicy", "spec.schedulerName", "spec.serviceAccountName", "status.podIP", "status.nominatedNodeName"];

    public sealed record LabelRequirement(string Key, string Operator, IReadOnlyList<string> Values);

    public sealed record FieldRequirement(string Path, bool Equal, string Value);

    /// <summary>Parses a label selector; <see cref="FormatException"/> on bad syntax.</summary>
    public static IReadOnlyList<LabelRequirement> ParseLabels(string? selector)
    {
        var requirements = new List<LabelRequirement>();
        if (string.IsNullOrWhiteSpace(selector))
        {
            return requirements;
        }

        foreach (var part in SplitTopLevel(selector))
        {
            var text = part.Trim();
            if (text.Length == 0)
            {
                throw new FormatException("empty requirement");
            }

            if (text.StartsWith('!'))
            {
                requirements.Add(new LabelRequirement(text[1..].Trim(), "!", []));
            }
            else if (text.Contains("!=", StringComparison.Ordinal))
            {
                var pieces = text.Split("!=", 2);
                requirements.Add(new LabelRequirement(pieces[0].Trim(), "!=", [pieces[1].Trim()]));
            }
            else if (text.Contains("==", StringComparison.Ordinal))
            {
                var pieces = text.Split("==", 2);
                requirements.Add(new LabelRequirement(pieces[0].Trim(), "=", [pieces[1].Trim()]));
            }
            else if (text.Contains('=', StringComparison.Ordinal))
            {
                var pieces = text.Split('=', 2);
                requirements.Add(new LabelRequirement(pieces[0].Trim(), "=", [pieces[1].Trim()]));
            }
            else if (text.Contains(" notin ", StringComparison.Ordinal) || text.Contains(" in ", StringComparison.Ordinal))
            {
                var notIn = text.Contains(" notin ", StringComparison.Ordinal);
                var pieces = text.Split(notIn ? " notin " : " in ", 2);
                var list = pieces[1].Trim();
                if (!list.StartsWith('(') || !list.EndsWith(')'))
                {
                    throw new FormatException($"expected a parenthesised list in '{text}'");
                }

                requirements.Add(new LabelRequirement(pieces[0].Trim(), notIn ? "notin" : "in", [.. list[1..^1].Split(',').Select(value => value.Trim())]));
            }
            else
            {
                requirements.Add(new LabelRequirement(text, "exists", []));
            }
        }

        if (requirements.Any(requirement => requirement.Key.Length == 0 || requirement.Key.Contains(' ', StringComparison.Ordinal)))
        {
            throw new FormatException("invalid label key");
        }

        return requirements;
    }

    public static bool MatchesLabels(JsonObject obj, IReadOnlyList<LabelRequirement> requirements)
    {
        var labels = obj["metadata"]?["labels"] as JsonObject;
        foreach (var requirement in requirements)
        {
            var value = labels?[requirement.Key]?.ToString();
            var ok = requirement.Operator switch
            {
                "=" => value == requirement.Values[0],
                "!=" => value != requirement.Values[0],
                "in" => value is not null && requirement.Values.Contains(value),
                "notin" => value is null || !requirement.Values.Contains(value),
                "exists" => value is not null,
                "!" => value is null,
                _ => false,
            };
            if (!ok)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Parses a field selector for <paramref name="type"/>; a field the kind does not support is a
    /// <see cref="NotSupportedException"/> (the API server's 400 "field label not supported").</summary>
    public static IReadOnlyList<FieldRequirement> ParseFields(string? selector, FakeResourceType type)
    {
        var requirements = new List<FieldRequirement>();
        if (string.IsNullOrWhiteSpace(selector))
        {
            return requirements;
        }

        foreach (var part in selector.Split(','))
        {
            var text = part.Trim();
            var equal = !text.Contains("!=", StringComparison.Ordinal);
            var pieces = equal ? text.Split(text.Contains("==", StringComparison.Ordinal) ? "==" : "=", 2) : text.Split("!=", 2);
            if (pieces.Length != 2)
            {
                throw new FormatException($"invalid selector: '{text}'");
            }

            var path = pieces[0].Trim();
            var supported = path is "metadata.name" or "metadata.namespace"
                || (type.Kind == "Event" && EventFields.Contains(path))
                || (type.Kind == "Pod" && PodFields.Contains(path));
            if (!supported)
            {
                throw new NotSupportedException($"field label not supported: {path}");
            }

            requirements.Add(new FieldRequirement(path, equal, pieces[1].Trim()));
        }

        return requirements;
    }

    public static bool MatchesFields(JsonObject obj, IReadOnlyList<FieldRequirement> requirements)
    {
        foreach (var requirement in requirements)
        {
            JsonNode? node = obj;
            foreach (var segment in requirement.Path.Split('.'))
            {
                node = node is JsonObject current ? current[segment] : null;
            }

            // "source" on events is the component name.
            var value = node is JsonObject source && requirement.Path == "source" ? source["component"]?.ToString() : node?.ToString();
            value ??= string.Empty;
            if ((value == requirement.Value) != requirement.Equal)
            {
                return false;
            }
        }

        return true;
    }

    private static IEnumerable<string> SplitTopLevel(string text)
    {
        var depth = 0;
        var start = 0;
        for (var index = 0; index < text.Length; index++)
        {
            switch (text[index])
            {
                case '(':
                    depth++;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    yield return text[start..index];
                    start = index + 1;
                    break;
            }
        }

        yield return text[start..];
    }
}
