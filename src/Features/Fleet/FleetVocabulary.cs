using System.Text.Json;

namespace Capstan.Features.Fleet;

/// <summary>The fleet's closed vocabularies (seed 004 / reference sindri.md §4.1) and their input spellings.</summary>
internal static class FleetVocabulary
{
    public static readonly string[] Statuses = ["RUNNING", "STOPPED", "DEPLOYING", "DESTROYING", "DESTROYED", "SUSPENDED", "ERROR", "UNKNOWN"];

    public static readonly string[] Providers =
        ["fly", "docker", "devpod", "e2b", "kubernetes", "digitalocean", "gcp", "azure", "aws", "runpod", "northflank", "ssh"];

    /// <summary>Providers a deployment can target (the upstream's deployment wizard).</summary>
    public static readonly string[] DeploymentProviders = ["fly", "docker", "devpod", "e2b", "kubernetes", "runpod", "northflank"];

    public static readonly string[] Distros = ["ubuntu", "fedora", "opensuse"];

    public static readonly string[] LogLevels = ["DEBUG", "INFO", "WARN", "ERROR"];

    public static readonly string[] LogSources = ["AGENT", "EXTENSION", "BUILD", "APP", "SYSTEM"];

    public static readonly string[] EventTypes =
    [
        "DEPLOY", "REDEPLOY", "CONNECT", "DISCONNECT", "BACKUP", "RESTORE", "DESTROY", "SUSPEND", "RESUME",
        "EXTENSION_INSTALL", "EXTENSION_REMOVE", "HEARTBEAT_LOST", "HEARTBEAT_RECOVERED", "ERROR",
    ];

    public static readonly string[] CommandStatuses = ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "TIMEOUT"];

    public static readonly string[] Severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "INFO"];

    public static readonly string[] AlertStatuses = ["ACTIVE", "ACKNOWLEDGED", "RESOLVED", "SILENCED"];

    public static readonly string[] RuleTypes = ["THRESHOLD", "ANOMALY", "LIFECYCLE", "SECURITY", "COST"];

    public static readonly string[] ChannelTypes = ["WEBHOOK", "SLACK", "EMAIL", "IN_APP"];

    /// <summary>Names an instance may have: lower-case letters, digits and inner dashes (seed 004's registration schema).</summary>
    public const string NamePattern = "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$";

    public static bool IsOneOf(string? value, IEnumerable<string> allowed, bool ignoreCase = true) =>
        value is not null && allowed.Contains(value.Trim(), ignoreCase ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal);

    /// <summary>debug/info/warn|warning/error|err|fatal in any case → the stored level, else null.</summary>
    public static string? Level(string? value) => value?.Trim().ToUpperInvariant() switch
    {
        "DEBUG" or "TRACE" => "DEBUG",
        "INFO" or "INFORMATION" or "NOTICE" => "INFO",
        "WARN" or "WARNING" => "WARN",
        "ERROR" or "ERR" or "FATAL" or "CRITICAL" => "ERROR",
        _ => null,
    };

    /// <summary>The stored log source for <paramref name="value"/> in any case (agent tags such as <c>app:web</c> use
    /// the part before the colon), else null.</summary>
    public static string? Source(string? value)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        var head = value.Split(':', 2)[0].Trim().ToUpperInvariant();
        return LogSources.Contains(head, StringComparer.Ordinal) ? head : null;
    }

    /// <summary>A comma-separated filter (<c>level=WARN,error</c>) split, trimmed and upper-cased.</summary>
    public static string[] Csv(string? value) =>
        string.IsNullOrWhiteSpace(value)
            ? []
            : [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(item => item.ToUpperInvariant()).Distinct()];

    /// <summary>A jsonb column read as text, as a JSON value for responses (null stays null).</summary>
    public static JsonElement? Json(string? text) =>
        text is null ? null : JsonDocument.Parse(text).RootElement.Clone();

    /// <summary>A jsonb column that is never null.</summary>
    public static JsonElement JsonOrEmpty(string? text, string empty = "{}") =>
        JsonDocument.Parse(text ?? empty).RootElement.Clone();
}
