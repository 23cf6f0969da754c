using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Features.Fleet.Drift;

/// <summary>
/// Compares an instance's declared configuration with what it reports (reference sindri.md §9.5), field by field:
/// <list type="bullet">
/// <item><c>provider</c> differs: CRITICAL; <c>region</c> differs: HIGH;</item>
/// <item>a declared extension missing (or failed): HIGH, fixed by <c>sindri extension install &lt;n&gt;</c>; another
/// version than declared (<c>name@version</c>): MEDIUM, <c>sindri extension upgrade &lt;n&gt;@&lt;v&gt;</c>; an
/// extension nobody declared: LOW;</item>
/// <item>env (only when the instance reported its env): a declared variable missing: HIGH, with another value: MEDIUM,
/// fixed by <c>sindri env set K="v"</c>; a variable whose name holds secret/token/password/key is HIGH, its values are
/// shown as <c>&lt;redacted&gt;</c> and it is set from the vault by hand;</item>
/// <item>resources: vCPUs differ: HIGH; memory off by more than 10 %: MEDIUM;</item>
/// <item>network: hostname differs: MEDIUM; a declared port not open: HIGH, <c>sindri ports open &lt;p&gt;</c>.</item>
/// </list>
/// A side that does not state a field decides nothing about it.
/// </summary>
internal static class DriftComparison
{
    public const string Redacted = "<redacted>";

    public sealed record Finding(string FieldPath, string? DeclaredVal, string? ActualVal, string Severity, string Description, string Action, string? Command);

    private static readonly string[] SensitiveWords = ["secret", "token", "password", "key"];

    public static bool IsSensitive(string name) => SensitiveWords.Any(word => name.Contains(word, StringComparison.OrdinalIgnoreCase));

    public static List<Finding> Compare(JsonObject declared, JsonObject actual)
    {
        var findings = new List<Finding>();
        if (Text(declared, "provider") is { } provider && Text(actual, "provider") is { } actualProvider && !Same(provider, actualProvider))
        {
            findings.Add(new Finding("provider", provider, actualProvider, "CRITICAL", $"Instance runs on {actualProvider}, declared {provider}", $"Redeploy the instance on {provider}", null));
        }

        if (Text(declared, "region") is { } region && Text(actual, "region") is { } actualRegion && !Same(region, actualRegion))
        {
            findings.Add(new Finding("region", region, actualRegion, "HIGH", $"Instance runs in {actualRegion}, declared {region}", $"Move the instance to region {region}", null));
        }

        CompareExtensions(declared, actual, findings);
        CompareEnv(declared, actual, findings);
        CompareResources(declared, actual, findings);
        CompareNetwork(declared, actual, findings);
        return findings;
    }

    private static void CompareExtensions(JsonObject declared, JsonObject actual, List<Finding> findings)
    {
        if (declared["extensions"] is not JsonArray wanted || actual["extensions"] is not JsonArray present)
        {
            return;
        }

        var running = present.OfType<JsonObject>().Where(item => Text(item, "name") is not null).GroupBy(item => Text(item, "name")!, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(group => group.Key, group => group.First(), StringComparer.OrdinalIgnoreCase);
        var declaredNames = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var item in wanted.OfType<JsonObject>())
        {
            if (Text(item, "name") is not { } name)
            {
                continue;
            }

            declaredNames.Add(name);
            var version = Text(item, "version");
            if (!running.TryGetValue(name, out var state) || Text(state, "status") is "failed" or "removed" or "error")
            {
                findings.Add(new Finding(
                    $"extensions.{name}.present", version ?? "installed", state is null ? "missing" : Text(state, "status"), "HIGH",
                    $"Declared extension {name} is not installed", $"Install extension {name}", $"sindri extension install {name}"));
            }
            else if (version is not null && Text(state, "version") is { } actualVersion && !Same(version, actualVersion))
            {
                findings.Add(new Finding(
                    $"extensions.{name}.version", version, actualVersion, "MEDIUM", $"Extension {name} is at {actualVersion}, declared {version}",
                    $"Upgrade extension {name} to {version}", $"sindri extension upgrade {name}@{version}"));
            }
        }

        foreach (var (name, state) in running.Where(pair => !declaredNames.Contains(pair.Key)).OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            findings.Add(new Finding(
                $"extensions.{name}.declared", null, Text(state, "version") ?? Text(state, "status") ?? "installed", "LOW",
                $"Extension {name} is installed but not declared", $"Declare extension {name} in the configuration or remove it", null));
        }
    }

    private static void CompareEnv(JsonObject declared, JsonObject actual, List<Finding> findings)
    {
        if (declared["env"] is not JsonObject wanted || actual["env"] is not JsonObject present)
        {
            return;
        }

        foreach (var (name, node) in wanted.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            var value = Scalar(node);
            var sensitive = IsSensitive(name);
            var shown = sensitive ? Redacted : value;
            if (!present.TryGetPropertyValue(name, out var actualNode) || actualNode is null)
            {
                findings.Add(new Finding(
                    $"env.{name}", shown, null, "HIGH", $"Declared environment variable {name} is not set",
                    sensitive ? $"Set {name} from the vault" : $"Set {name}", sensitive ? null : $"sindri env set {name}=\"{value}\""));
            }
            else if (Scalar(actualNode) != value)
            {
                findings.Add(new Finding(
                    $"env.{name}", shown, sensitive ? Redacted : Scalar(actualNode), sensitive ? "HIGH" : "MEDIUM", $"Environment variable {name} differs from its declared value",
                    sensitive ? $"Set {name} from the vault" : $"Set {name}", sensitive ? null : $"sindri env set {name}=\"{value}\""));
            }
        }
    }

    private static void CompareResources(JsonObject declared, JsonObject actual, List<Finding> findings)
    {
        if (declared["resources"] is not JsonObject wanted || actual["resources"] is not JsonObject present)
        {
            return;
        }

        if (Number(wanted, "cpus") is { } cpus && Number(present, "cpus") is { } actualCpus && cpus != actualCpus)
        {
            findings.Add(new Finding("resources.cpus", Show(cpus), Show(actualCpus), "HIGH", $"Instance has {Show(actualCpus)} vCPUs, declared {Show(cpus)}", $"Resize the instance to {Show(cpus)} vCPUs", null));
        }

        if (Number(wanted, "memory_gb") is { } memory && Number(present, "memory_gb") is { } actualMemory && memory > 0 && Math.Abs(actualMemory - memory) / memory > 0.10)
        {
            findings.Add(new Finding(
                "resources.memory_gb", Show(memory), Show(actualMemory), "MEDIUM", $"Instance has {Show(actualMemory)} GB of memory, declared {Show(memory)} GB",
                $"Resize the instance to {Show(memory)} GB of memory", null));
        }
    }

    private static void CompareNetwork(JsonObject declared, JsonObject actual, List<Finding> findings)
    {
        if (declared["network"] is not JsonObject wanted || actual["network"] is not JsonObject present)
        {
            return;
        }

        if (Text(wanted, "hostname") is { } hostname && Text(present, "hostname") is { } actualHostname && !Same(hostname, actualHostname))
        {
            findings.Add(new Finding("network.hostname", hostname, actualHostname, "MEDIUM", $"Hostname is {actualHostname}, declared {hostname}", $"Set the hostname to {hostname}", null));
        }

        if (wanted["ports"] is JsonArray ports && present["ports"] is JsonArray open)
        {
            var opened = open.Select(Scalar).ToHashSet(StringComparer.Ordinal);
            foreach (var port in ports.Select(Scalar).Where(port => port is not null && !opened.Contains(port)))
            {
                findings.Add(new Finding($"network.ports.{port}", "open", "closed", "HIGH", $"Declared port {port} is not open", $"Open port {port}", $"sindri ports open {port}"));
            }
        }
    }

    private static bool Same(string left, string right) => string.Equals(left.Trim(), right.Trim(), StringComparison.OrdinalIgnoreCase);

    private static string? Text(JsonObject item, string name) => item.TryGetPropertyValue(name, out var node) ? Scalar(node) : null;

    private static string? Scalar(JsonNode? node) => node is JsonValue value
        ? value.GetValueKind() switch
        {
            JsonValueKind.String => value.GetValue<string>(),
            JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.ToJsonString(),
            _ => null,
        }
        : null;

    private static double? Number(JsonObject item, string name) =>
        item.TryGetPropertyValue(name, out var node) && Scalar(node) is { } text && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number) ? number : null;

    private static string Show(double number) => number.ToString("0.##", CultureInfo.InvariantCulture);
}
