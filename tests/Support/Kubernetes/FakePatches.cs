using System.Globalization;
using System.Text.Json.Nodes;

namespace Capstan.Tests.Support.Kubernetes;

/// <summary>The fake's patch semantics: RFC 7386 merge patch, RFC 6902 JSON patch, and the leaf-path view of objects
/// that its server-side apply uses for field ownership.</summary>
public static class FakePatches
{
    /// <summary>RFC 7386: objects merge recursively, <c>null</c> deletes, anything else replaces.</summary>
    public static JsonNode? Merge(JsonNode? target, JsonNode? patch)
    {
        if (patch is not JsonObject patchObject)
        {
            return patch?.DeepClone();
        }

        var result = target is JsonObject targetObject ? (JsonObject)targetObject.DeepClone() : new JsonObject();
        foreach (var (key, value) in patchObject)
        {
            if (value is null)
            {
                result.Remove(key);
            }
            else
            {
                var existing = result[key];
                result.Remove(key);
                result[key] = Merge(existing, value);
            }
        }

        return result;
    }

    /// <summary>RFC 6902 on a copy of <paramref name="document"/>; a failing operation is an
    /// <see cref="InvalidOperationException"/> naming it.</summary>
    public static JsonNode ApplyJsonPatch(JsonNode document, JsonArray operations)
    {
        var root = new JsonObject { ["root"] = document.DeepClone() };
        foreach (var item in operations)
        {
            if (item is not JsonObject operation || operation["op"]?.ToString() is not { } op || operation["path"]?.ToString() is not { } path)
            {
                throw new InvalidOperationException("every operation needs 'op' and 'path'");
            }

            switch (op)
            {
                case "add":
                    Add(root, path, Required(operation, "value"));
                    break;
                case "remove":
                    Remove(root, path);
                    break;
                case "replace":
                    Remove(root, path);
                    Add(root, path, Required(operation, "value"));
                    break;
                case "move":
                    var moved = Get(root, From(operation));
                    Remove(root, From(operation));
                    Add(root, path, moved);
                    break;
                case "copy":
                    Add(root, path, Get(root, From(operation)));
                    break;
                case "test":
                    if (!JsonNode.DeepEquals(Get(root, path), operation["value"]))
                    {
                        throw new InvalidOperationException($"test operation failed at {path}");
                    }

                    break;
                default:
                    throw new InvalidOperationException($"unknown operation '{op}'");
            }
        }

        return root["root"]!.DeepClone();
    }

    /// <summary>The paths of every leaf (scalar, array, empty object), as segment lists.</summary>
    public static List<string[]> Leaves(JsonNode? node, string[] prefix)
    {
        var leaves = new List<string[]>();
        if (node is JsonObject obj && obj.Count > 0)
        {
            foreach (var (key, value) in obj)
            {
                leaves.AddRange(Leaves(value, [.. prefix, key]));
            }
        }
        else
        {
            leaves.Add(prefix);
        }

        return leaves;
    }

    public static JsonNode? ValueAt(JsonNode? node, IReadOnlyList<string> path)
    {
        foreach (var segment in path)
        {
            node = node is JsonObject obj ? obj[segment] : null;
        }

        return node;
    }

    public static void SetAt(JsonObject root, IReadOnlyList<string> path, JsonNode? value)
    {
        var current = root;
        for (var index = 0; index < path.Count - 1; index++)
        {
            if (current[path[index]] is not JsonObject next)
            {
                next = new JsonObject();
                current[path[index]] = next;
            }

            current = next;
        }

        current[path[^1]] = value?.DeepClone();
    }

    public static void RemoveAt(JsonObject root, IReadOnlyList<string> path)
    {
        JsonNode? current = root;
        for (var index = 0; index < path.Count - 1; index++)
        {
            current = current is JsonObject obj ? obj[path[index]] : null;
        }

        (current as JsonObject)?.Remove(path[^1]);
    }

    /// <summary>Two paths overlap when one is a prefix of the other.</summary>
    public static bool Overlap(IReadOnlyList<string> left, IReadOnlyList<string> right)
    {
        var common = Math.Min(left.Count, right.Count);
        for (var index = 0; index < common; index++)
        {
            if (left[index] != right[index])
            {
                return false;
            }
        }

        return true;
    }

    public static string Display(IReadOnlyList<string> path) => "." + string.Join('.', path);

    /// <summary>The <c>fieldsV1</c> form of a set of paths: <c>{"f:spec":{"f:interval":{}}}</c>.</summary>
    public static JsonObject FieldsV1(IEnumerable<string[]> paths)
    {
        var root = new JsonObject();
        foreach (var path in paths)
        {
            var current = root;
            foreach (var segment in path)
            {
                var key = "f:" + segment;
                if (current[key] is not JsonObject next)
                {
                    next = new JsonObject();
                    current[key] = next;
                }

                current = next;
            }
        }

        return root;
    }

    private static JsonNode? Required(JsonObject operation, string name) =>
        operation.ContainsKey(name) ? operation[name]?.DeepClone() : throw new InvalidOperationException($"'{operation["op"]}' needs '{name}'");

    private static string From(JsonObject operation) => operation["from"]?.ToString() ?? throw new InvalidOperationException("'from' is required");

    private static List<string> Pointer(string path)
    {
        if (path.Length == 0)
        {
            return ["root"];
        }

        if (!path.StartsWith('/'))
        {
            throw new InvalidOperationException($"invalid JSON pointer '{path}'");
        }

        return ["root", .. path[1..].Split('/').Select(segment => segment.Replace("~1", "/", StringComparison.Ordinal).Replace("~0", "~", StringComparison.Ordinal))];
    }

    private static (JsonNode Parent, string Key) Parent(JsonObject root, string path)
    {
        var segments = Pointer(path);
        JsonNode? current = root;
        foreach (var segment in segments[..^1])
        {
            current = current switch
            {
                JsonObject obj => obj[segment],
                JsonArray array when int.TryParse(segment, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count => array[index],
                _ => null,
            } ?? throw new InvalidOperationException($"path '{path}' does not exist");
        }

        return (current!, segments[^1]);
    }

    private static JsonNode? Get(JsonObject root, string path)
    {
        var (parent, key) = Parent(root, path);
        return parent switch
        {
            JsonObject obj when obj.ContainsKey(key) => obj[key]?.DeepClone(),
            JsonArray array when int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count => array[index]?.DeepClone(),
            _ => throw new InvalidOperationException($"path '{path}' does not exist"),
        };
    }

    private static void Add(JsonObject root, string path, JsonNode? value)
    {
        var (parent, key) = Parent(root, path);
        switch (parent)
        {
            case JsonObject obj:
                obj[key] = value;
                break;
            case JsonArray array when key == "-":
                array.Add(value);
                break;
            case JsonArray array when int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index <= array.Count:
                array.Insert(index, value);
                break;
            default:
                throw new InvalidOperationException($"cannot add at '{path}'");
        }
    }

    private static void Remove(JsonObject root, string path)
    {
        var (parent, key) = Parent(root, path);
        switch (parent)
        {
            case JsonObject obj when obj.ContainsKey(key):
                obj.Remove(key);
                break;
            case JsonArray array when int.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < array.Count:
                array.RemoveAt(index);
                break;
            default:
                throw new InvalidOperationException($"path '{path}' does not exist");
        }
    }
}
