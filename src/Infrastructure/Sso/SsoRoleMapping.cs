using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Security;

namespace Capstan.Infrastructure.Sso;

/// <summary>
/// A provider's role mapping: base role names (aliases allowed: <c>editor</c>, <c>user</c>, upper case) to the
/// identity-provider groups that grant them, e.g. <c>{"admin": ["platform-admins"], "editor": ["developers"]}</c>.
/// Gyre accepts it as an object or as a JSON string of one; a single group may be a string. The highest role whose
/// groups the user is in wins; otherwise the provider's default role, where an <c>admin</c> default is clamped to
/// operator (admin only ever comes from an explicit group, as Gyre does).
/// </summary>
public static class SsoRoleMapping
{
    private static readonly BaseRole[] Precedence = [BaseRole.Admin, BaseRole.Operator, BaseRole.Developer, BaseRole.Viewer];

    /// <summary>Checks <paramref name="input"/> and returns the mapping as it is stored (JSON text, single groups made
    /// lists), null for an empty input or object, or an error message.</summary>
    public static bool TryNormalise(JsonElement input, out string? json, out string? error)
    {
        json = null;
        error = null;
        var value = input;
        if (value.ValueKind is JsonValueKind.Null or JsonValueKind.Undefined)
        {
            return true;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString()!;
            if (string.IsNullOrWhiteSpace(text))
            {
                return true;
            }

            try
            {
                using var document = JsonDocument.Parse(text);
                value = document.RootElement.Clone();
            }
            catch (JsonException)
            {
                error = "roleMapping must be valid JSON";
                return false;
            }
        }

        if (value.ValueKind != JsonValueKind.Object)
        {
            error = "roleMapping must be an object of role names to group lists";
            return false;
        }

        var normalised = new JsonObject();
        foreach (var property in value.EnumerateObject())
        {
            if (!BaseRoles.IsValid(property.Name))
            {
                error = $"roleMapping key '{property.Name}' is not a role ({BaseRoles.AcceptedValues})";
                return false;
            }

            var groups = new JsonArray();
            switch (property.Value.ValueKind)
            {
                case JsonValueKind.String:
                    groups.Add(property.Value.GetString());
                    break;
                case JsonValueKind.Array when property.Value.EnumerateArray().All(item => item.ValueKind == JsonValueKind.String):
                    foreach (var item in property.Value.EnumerateArray())
                    {
                        groups.Add(item.GetString());
                    }

                    break;
                default:
                    error = $"roleMapping.{property.Name} must be a list of group names";
                    return false;
            }

            normalised[property.Name] = groups;
        }

        json = normalised.Count == 0 ? null : normalised.ToJsonString();
        return true;
    }

    /// <summary>The role a user with <paramref name="groups"/> gets from a provider.</summary>
    public static BaseRole Resolve(string? mappingJson, IReadOnlyCollection<string> groups, string defaultRole)
    {
        if (mappingJson is not null && groups.Count > 0 && JsonNode.Parse(mappingJson) is JsonObject mapping)
        {
            foreach (var role in Precedence)
            {
                foreach (var (key, value) in mapping)
                {
                    if (BaseRoles.TryParse(key, out var keyRole) && keyRole == role && value is JsonArray mapped
                        && mapped.Any(group => group?.GetValueKind() == JsonValueKind.String && groups.Contains(group.GetValue<string>())))
                    {
                        return role;
                    }
                }
            }
        }

        return Fallback(defaultRole);
    }

    /// <summary>The default role as a fallback: admin is clamped to operator, unknown values to viewer.</summary>
    public static BaseRole Fallback(string defaultRole) =>
        !BaseRoles.TryParse(defaultRole, out var role) ? BaseRole.Viewer : role == BaseRole.Admin ? BaseRole.Operator : role;
}
