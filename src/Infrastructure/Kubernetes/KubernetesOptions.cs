using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>Deadlines of the Kubernetes client, per kind of call (Gyre's: get 15 s, list and writes 30 s, logs 60 s),
/// bound from the <c>Kubernetes</c> configuration section.</summary>
public sealed class KubernetesClientOptions
{
    public TimeSpan GetTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan ListTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan WriteTimeout { get; set; } = TimeSpan.FromSeconds(30);

    public TimeSpan LogsTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a watch may take to start streaming (the stream itself runs until cancelled or closed).</summary>
    public TimeSpan WatchConnectTimeout { get; set; } = TimeSpan.FromSeconds(15);

    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Pooled clients unused this long are dropped.</summary>
    public TimeSpan PoolIdleLifetime { get; set; } = TimeSpan.FromMinutes(10);

    public int PoolCapacity { get; set; } = 64;

    /// <summary>Sent as the <c>User-Agent</c>.</summary>
    public string UserAgent { get; set; } = "capstan/1.0";
}

/// <summary>Options of a list: selectors and chunking (<c>limit</c>/<c>continue</c>).</summary>
public sealed record ListOptions
{
    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    public int? Limit { get; init; }

    public string? Continue { get; init; }

    public string? ResourceVersion { get; init; }
}

/// <summary>Options of a watch.</summary>
public sealed record WatchOptions
{
    public string? LabelSelector { get; init; }

    public string? FieldSelector { get; init; }

    /// <summary>Start after this version; null starts with synthetic ADDED events for what exists now.</summary>
    public string? ResourceVersion { get; init; }

    /// <summary>The server ends the watch after this long (Kubernetes picks one when unset).</summary>
    public int? TimeoutSeconds { get; init; }

    public bool AllowBookmarks { get; init; } = true;
}

/// <summary>Options of create, replace and patch.</summary>
public sealed record WriteOptions
{
    /// <summary>Validate and admit the change, but do not persist it (<c>dryRun=All</c>).</summary>
    public bool DryRun { get; init; }

    public string? FieldManager { get; init; }

    /// <summary>Server-side apply only: take ownership of conflicting fields.</summary>
    public bool Force { get; init; }
}

/// <summary>Options of a delete.</summary>
public sealed record DeleteOptions
{
    /// <summary><c>Foreground</c>, <c>Background</c> or <c>Orphan</c>.</summary>
    public string? PropagationPolicy { get; init; }

    public bool DryRun { get; init; }

    public int? GracePeriodSeconds { get; init; }
}

/// <summary>Options of a pod log read.</summary>
public sealed record PodLogOptions
{
    public string? Container { get; init; }

    public int? TailLines { get; init; }

    public int? SinceSeconds { get; init; }

    public bool Timestamps { get; init; }

    public bool Previous { get; init; }

    public long? LimitBytes { get; init; }
}

/// <summary>A patch with its explicit content type: the content type decides the patch semantics.</summary>
public sealed record KubernetesPatch(string ContentType, string Body)
{
    public const string MergePatchType = "application/merge-patch+json";
    public const string JsonPatchType = "application/json-patch+json";
    public const string StrategicMergePatchType = "application/strategic-merge-patch+json";
    public const string ApplyPatchType = "application/apply-patch+yaml";

    /// <summary>RFC 7386 JSON merge patch: objects merge, <c>null</c> removes a key, arrays are replaced.</summary>
    public static KubernetesPatch Merge(JsonNode patch) => new(MergePatchType, patch.ToJsonString());

    /// <summary>RFC 6902 JSON patch: a list of operations.</summary>
    public static KubernetesPatch Json(JsonArray operations) => new(JsonPatchType, operations.ToJsonString());

    /// <summary>Strategic merge patch (built-in kinds only; custom resources refuse it with 415).</summary>
    public static KubernetesPatch StrategicMerge(JsonNode patch) => new(StrategicMergePatchType, patch.ToJsonString());

    /// <summary>Server-side apply of a whole object (JSON is valid YAML). Needs a field manager.</summary>
    public static KubernetesPatch Apply(JsonObject configuration) => new(ApplyPatchType, configuration.ToJsonString());

    /// <summary>Server-side apply of YAML text.</summary>
    public static KubernetesPatch ApplyYaml(string yaml) => new(ApplyPatchType, yaml);
}

/// <summary>One event of a watch: <c>ADDED</c>, <c>MODIFIED</c>, <c>DELETED</c> or <c>BOOKMARK</c> with the object
/// (a bookmark carries only <c>metadata.resourceVersion</c>).</summary>
public sealed record WatchEvent(string Type, JsonObject Object)
{
    public string? ResourceVersion => Object["metadata"]?["resourceVersion"]?.ToString();
}

/// <summary>A resource type the API server's discovery reports.</summary>
public sealed record DiscoveredResource(KubernetesResourceType Type, IReadOnlyList<string> Verbs);
