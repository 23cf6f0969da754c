using System.Text.RegularExpressions;
using Capstan.Infrastructure.Errors;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Capstan.Features.Fleet.Deployments;

/// <summary>
/// Checks a Sindri deployment configuration (YAML, as the console's deployment wizard writes it): it must parse, be a
/// mapping, and its known sections must have their shape — <c>name</c> (a slug), <c>deployment.provider</c> (a known
/// provider), <c>extensions</c> (<c>profile</c>, <c>active</c>/<c>additional</c> lists, or a list), <c>secrets</c>
/// (<c>- name: X</c>), <c>env</c> (a mapping of scalars). Secret and variable names the platform reserves for itself
/// (reference sindri.md §8.8) are refused. Every problem is a 400 naming the line and column.
/// </summary>
internal static partial class DeploymentConfig
{
    public const int MaxBytes = 65_536;

    private static readonly string[] ReservedNames =
        ["AUTHORIZED_KEYS", "DATABASE_URL", "JWT_SECRET", "SESSION_SECRET", "SECRET_VAULT_KEY", "REDIS_URL", "AUTH_BYPASS", "SINDRI_CONSOLE_URL", "SINDRI_CONSOLE_API_KEY"];

    private static readonly string[] ReservedPrefixes = ["POSTGRES_", "SINDRI_", "DRAUPNIR_", "PRICING_"];

    /// <summary>What a valid configuration declares.</summary>
    public sealed record Summary(string? Name, string? Provider, string[] Extensions, string[] SecretNames);

    public static bool IsReserved(string name)
    {
        var upper = name.Trim().ToUpperInvariant();
        return ReservedNames.Contains(upper) || ReservedPrefixes.Any(prefix => upper.StartsWith(prefix, StringComparison.Ordinal));
    }

    /// <summary>Parses and checks <paramref name="yaml"/>; a problem is a 400 whose details name <paramref name="field"/>.</summary>
    public static Summary Check(string yaml, string field)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException exception)
        {
            throw Problem(field, exception.Start.Line, exception.Start.Column, Clean(exception.Message));
        }

        if (stream.Documents.Count == 0 || stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            var node = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
            throw Problem(field, node?.Start.Line ?? 1, node?.Start.Column ?? 1, "the configuration must be a YAML mapping (key: value)");
        }

        if (stream.Documents.Count > 1)
        {
            throw Problem(field, stream.Documents[1].RootNode.Start.Line, 1, "the configuration must be a single YAML document");
        }

        string? name = null;
        if (Child(root, "name") is { } nameNode)
        {
            name = Scalar(nameNode, field, "name");
            if (!Slug().IsMatch(name))
            {
                throw Problem(field, nameNode, "name must be lower-case letters, digits and inner dashes");
            }
        }

        string? provider = null;
        if (Child(root, "deployment") is { } deployment)
        {
            var section = deployment as YamlMappingNode ?? throw Problem(field, deployment, "deployment must be a mapping");
            if (Child(section, "provider") is { } providerNode)
            {
                provider = Scalar(providerNode, field, "deployment.provider").ToLowerInvariant();
                if (!FleetVocabulary.Providers.Contains(provider))
                {
                    throw Problem(field, providerNode, $"deployment.provider must be one of: {string.Join(", ", FleetVocabulary.Providers)}");
                }
            }
        }

        var extensions = new List<string>();
        if (Child(root, "extensions") is { } extensionsNode)
        {
            switch (extensionsNode)
            {
                case YamlSequenceNode list:
                    extensions.AddRange(Scalars(list, field, "extensions"));
                    break;
                case YamlMappingNode map:
                    if (Child(map, "profile") is { } profile)
                    {
                        Scalar(profile, field, "extensions.profile");
                    }

                    foreach (var key in new[] { "active", "additional" })
                    {
                        if (Child(map, key) is { } entries)
                        {
                            extensions.AddRange(Scalars(entries as YamlSequenceNode ?? throw Problem(field, entries, $"extensions.{key} must be a list"), field, $"extensions.{key}"));
                        }
                    }

                    break;
                default:
                    throw Problem(field, extensionsNode, "extensions must be a list or a mapping with profile, active and additional");
            }
        }

        var secretNames = new List<string>();
        if (Child(root, "secrets") is { } secretsNode)
        {
            var list = secretsNode as YamlSequenceNode ?? throw Problem(field, secretsNode, "secrets must be a list of {name: ...}");
            foreach (var entry in list)
            {
                var secret = entry as YamlMappingNode ?? throw Problem(field, entry, "each secret must be a mapping with a name");
                var nameOf = Child(secret, "name") ?? throw Problem(field, secret, "each secret needs a name");
                var secretName = Scalar(nameOf, field, "secrets[].name");
                if (!EnvName().IsMatch(secretName))
                {
                    throw Problem(field, nameOf, "a secret name must be letters, digits and '_', not starting with a digit");
                }

                if (IsReserved(secretName))
                {
                    throw Problem(field, nameOf, $"'{secretName}' is reserved by the platform and cannot be set by a deployment");
                }

                secretNames.Add(secretName);
            }
        }

        if (Child(root, "env") is { } envNode)
        {
            var env = envNode as YamlMappingNode ?? throw Problem(field, envNode, "env must be a mapping of NAME: value");
            foreach (var (key, value) in env.Children)
            {
                var variable = Scalar(key, field, "env");
                if (value is not YamlScalarNode)
                {
                    throw Problem(field, value, $"env.{variable} must be a single value");
                }

                if (IsReserved(variable))
                {
                    throw Problem(field, key, $"'{variable}' is reserved by the platform and cannot be set by a deployment");
                }
            }
        }

        return new Summary(name, provider, [.. extensions.Distinct()], [.. secretNames]);
    }

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;

    private static string Scalar(YamlNode node, string field, string path) =>
        node is YamlScalarNode { Value: { Length: > 0 } value } ? value : throw Problem(field, node, $"{path} must be a single value");

    private static IEnumerable<string> Scalars(YamlSequenceNode list, string field, string path) =>
        [.. list.Select(item => Scalar(item, field, $"{path}[]"))];

    private static BadRequestException Problem(string field, YamlNode node, string message) => Problem(field, node.Start.Line, node.Start.Column, message);

    private static BadRequestException Problem(string field, long line, long column, string message)
    {
        var text = $"Invalid YAML at line {line}, column {column}: {message}";
        return new BadRequestException(text) { Details = new Dictionary<string, string[]> { [field] = [text] } };
    }

    // YamlDotNet's messages repeat the position in parentheses; the line and column lead ours already.
    private static string Clean(string message) => Position().Replace(message, string.Empty).Trim();

    [GeneratedRegex(@"^\(Line: \d+, Col: \d+, Idx: \d+\) - \(Line: \d+, Col: \d+, Idx: \d+\):\s*")]
    private static partial Regex Position();

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")]
    private static partial Regex Slug();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvName();
}
