using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// Reads a Docker Compose file strictly: invalid YAML, a document that is not a mapping, keys the Compose
/// specification does not define (at the top level and per service; <c>x-*</c> extensions allowed), malformed ports and
/// services without an image or build are refused as 400s naming the key. The result is the upstream's
/// <c>ImportAnalysis.services</c>/<c>volumes</c>/<c>networks</c> plus warnings.
/// </summary>
public static partial class ComposeFile
{
    public const int MaxBytes = 1 << 20;

    private static readonly HashSet<string> TopLevelKeys = ["version", "name", "services", "volumes", "networks", "configs", "secrets", "include"];

    private static readonly HashSet<string> ServiceKeys =
    [
        "annotations", "attach", "blkio_config", "build", "cap_add", "cap_drop", "cgroup", "cgroup_parent", "command", "configs", "container_name",
        "cpu_count", "cpu_percent", "cpu_period", "cpu_quota", "cpu_rt_period", "cpu_rt_runtime", "cpu_shares", "cpus", "cpuset", "credential_spec",
        "depends_on", "deploy", "develop", "device_cgroup_rules", "devices", "dns", "dns_opt", "dns_search", "domainname", "driver_opts", "entrypoint",
        "env_file", "environment", "expose", "extends", "external_links", "extra_hosts", "gpus", "group_add", "healthcheck", "hostname", "image", "init",
        "ipc", "isolation", "label_file", "labels", "links", "logging", "mac_address", "mem_limit", "mem_reservation", "mem_swappiness", "memswap_limit",
        "models", "network_mode", "networks", "oom_kill_disable", "oom_score_adj", "pid", "pids_limit", "platform", "ports", "post_start", "pre_stop",
        "privileged", "profiles", "provider", "pull_policy", "read_only", "restart", "runtime", "scale", "secrets", "security_opt", "shm_size",
        "stdin_open", "stop_grace_period", "stop_signal", "storage_opt", "sysctls", "tmpfs", "tty", "ulimits", "use_api_socket", "user", "userns_mode",
        "uts", "volumes", "volumes_from", "working_dir",
    ];

    /// <summary>Parses and checks <paramref name="yaml"/>; throws a 400 with <c>details</c> per offending key.</summary>
    public static ComposeModel Parse(string yaml)
    {
        if (yaml.Length > MaxBytes)
        {
            throw new PayloadTooLargeException("File too large. Maximum size is 1MB");
        }

        JsonNode? document;
        try
        {
            document = YamlJson.Parse(yaml);
        }
        catch (FormatException exception)
        {
            throw BadRequestException.ForField("file", $"The compose file is not valid YAML: {exception.Message}");
        }

        if (document is not JsonObject root)
        {
            throw BadRequestException.ForField("file", "The compose file must be a YAML mapping with a 'services' section");
        }

        var problems = new Dictionary<string, List<string>>(StringComparer.Ordinal);
        void Problem(string field, string message)
        {
            if (!problems.TryGetValue(field, out var list))
            {
                problems[field] = list = [];
            }

            list.Add(message);
        }

        foreach (var key in root.Select(pair => pair.Key).Where(key => !TopLevelKeys.Contains(key) && !key.StartsWith("x-", StringComparison.Ordinal)))
        {
            Problem(key, $"'{key}' is not a Compose top-level key ({string.Join(", ", TopLevelKeys)} or x-*)");
        }

        var model = new ComposeModel();
        if (root["services"] is not JsonObject services || services.Count == 0)
        {
            Problem("services", "the compose file defines no services");
            throw Failed(problems);
        }

        foreach (var (name, value) in services)
        {
            var field = $"services.{name}";
            if (value is not JsonObject service)
            {
                Problem(field, "each service must be a mapping");
                continue;
            }

            foreach (var key in service.Select(pair => pair.Key).Where(key => !ServiceKeys.Contains(key) && !key.StartsWith("x-", StringComparison.Ordinal)))
            {
                Problem($"{field}.{key}", $"'{key}' is not a Compose service key");
            }

            model.Services.Add(ReadService(name, service, field, Problem, model));
        }

        if (root["volumes"] is JsonObject volumes)
        {
            foreach (var (name, value) in volumes)
            {
                var volume = value as JsonObject ?? [];
                model.Volumes.Add(new ComposeVolume(name, NodeData.Text(volume["driver"]), NodeData.Flag(volume["external"]) == true || volume["external"] is JsonObject, Labels(volume["labels"])));
            }
        }
        else if (root["volumes"] is not null)
        {
            Problem("volumes", "volumes must be a mapping of volume names");
        }

        if (root["networks"] is JsonObject networks)
        {
            foreach (var (name, value) in networks)
            {
                var network = value as JsonObject ?? [];
                model.Networks.Add(new ComposeNetwork(name, NodeData.Text(network["driver"]), NodeData.Flag(network["external"]) == true || network["external"] is JsonObject));
            }
        }

        // A named volume a service uses must be declared (Compose refuses the file otherwise).
        foreach (var service in model.Services)
        {
            foreach (var mount in service.Volumes.Where(mount => mount.Type == "volume" && mount.Source.Length > 0))
            {
                if (model.Volumes.All(volume => volume.Name != mount.Source))
                {
                    Problem($"services.{service.Name}.volumes", $"volume '{mount.Source}' is not declared in the top-level volumes section");
                }
            }

            foreach (var dependency in service.DependsOn.Where(dependency => model.Services.All(other => other.Name != dependency)))
            {
                Problem($"services.{service.Name}.depends_on", $"service '{dependency}' is not defined");
            }
        }

        if (problems.Count > 0)
        {
            throw Failed(problems);
        }

        return model;
    }

    private static BadRequestException Failed(Dictionary<string, List<string>> problems) =>
        new($"The compose file is not valid: {problems.First().Value[0]}") { Details = problems.ToDictionary(pair => pair.Key, pair => pair.Value.ToArray()) };

    private static ComposeService ReadService(string name, JsonObject service, string field, Action<string, string> problem, ComposeModel model)
    {
        var warnings = model.Warnings;
        var data = new NodeData(service);
        var result = new ComposeService { Name = name, Image = NodeData.Text(service["image"]) };
        switch (service["build"])
        {
            case JsonValue context:
                result.Build = new ComposeBuild(NodeData.Text(context) ?? ".", null, [], null);
                break;
            case JsonObject build:
                result.Build = new ComposeBuild(NodeData.Text(build["context"]) ?? ".", NodeData.Text(build["dockerfile"]), Labels(build["args"]), NodeData.Text(build["target"]));
                break;
        }

        if (result.Image is null && result.Build is null)
        {
            model.Errors.Add(new ComposeError("SERVICE_NO_IMAGE", $"Service '{name}' has neither an image nor a build section; it is not imported", name, "image"));
        }
        else if (result.Image is null)
        {
            warnings.Add($"Service '{name}' is built from source and has no image: build it first, then set the deployment's image");
        }

        var ports = service["ports"] as JsonArray ?? [];
        for (var i = 0; i < ports.Count; i++)
        {
            if (ReadPort(ports[i], out var port, out var error))
            {
                result.Ports.Add(port!);
            }
            else
            {
                problem($"{field}.ports[{i}]", error!);
            }
        }

        foreach (var (key, value) in Environment(service["environment"]))
        {
            result.Environment[key] = value;
        }

        result.EnvFile.AddRange(NodeData.StringList(service["env_file"] is JsonArray envFiles
            ? new JsonArray([.. envFiles.Select(item => item is JsonObject obj ? obj["path"]?.DeepClone() : item?.DeepClone())])
            : service["env_file"]?.DeepClone()));
        if (result.EnvFile.Count > 0)
        {
            warnings.Add($"Service '{name}' reads env_file {string.Join(", ", result.EnvFile)}: those variables are not imported; add them to its ConfigMap or Secret");
        }

        var volumes = service["volumes"] as JsonArray ?? [];
        for (var i = 0; i < volumes.Count; i++)
        {
            if (ReadVolume(volumes[i]) is { } mount)
            {
                result.Volumes.Add(mount);
                if (mount.Type == "bind")
                {
                    warnings.Add($"Bind mount {mount.Source}:{mount.Target} of service '{name}' is ignored: a pod cannot mount a path of the machine running Compose");
                }
            }
            else
            {
                problem($"{field}.volumes[{i}]", "a volume is 'source:target[:ro|rw]' or a mapping with type, source and target");
            }
        }

        result.DependsOn.AddRange(service["depends_on"] is JsonObject dependsOn ? dependsOn.Select(pair => pair.Key) : NodeData.StringList(service["depends_on"]));
        result.Command.AddRange(CommandList(service["command"]));
        result.Entrypoint.AddRange(CommandList(service["entrypoint"]));
        result.Networks.AddRange(service["networks"] is JsonObject networks ? networks.Select(pair => pair.Key) : NodeData.StringList(service["networks"]));
        var deploy = data.Child("deploy");
        result.Replicas = deploy.Long("replicas") ?? data.Long("scale") ?? 1;
        var resources = deploy.Child("resources");
        result.Limits = new ComposeResources(resources.Child("limits").Str("cpus") ?? data.Str("cpus"), resources.Child("limits").Str("memory") ?? data.Str("mem_limit"));
        result.Reservations = new ComposeResources(resources.Child("reservations").Str("cpus"), resources.Child("reservations").Str("memory") ?? data.Str("mem_reservation"));
        if (service["healthcheck"] is JsonObject healthcheck && NodeData.Flag(healthcheck["disable"]) != true)
        {
            var check = new NodeData(healthcheck);
            var test = healthcheck["test"] is JsonArray list ? [.. list.Select(NodeData.RawText)] : check.Str("test") is { } text ? new List<string> { "CMD-SHELL", text } : [];
            if (test.Count > 0 && test[0] != "NONE")
            {
                result.Healthcheck = new ComposeHealthcheck(test, check.Str("interval"), check.Str("timeout"), check.Long("retries"), check.Str("start_period"));
            }
        }

        foreach (var (key, value) in Labels(service["labels"]))
        {
            result.Labels[key] = value;
        }

        result.Restart = data.Str("restart");
        result.WorkingDir = data.Str("working_dir");
        if (data.Str("network_mode") is { } networkMode && networkMode != "bridge")
        {
            warnings.Add($"Service '{name}' uses network_mode '{networkMode}', which Kubernetes pods do not support; it is ignored");
        }

        if (data.Bool("privileged") == true)
        {
            warnings.Add($"Service '{name}' runs privileged; the imported workload does not (grant it explicitly if it really needs to)");
        }

        return result;
    }

    /// <summary>Short syntax <c>[ip:][host:]container[/proto]</c> (no ranges), a bare number, or the long syntax.</summary>
    private static bool ReadPort(JsonNode? node, out ComposePort? port, out string? error)
    {
        port = null;
        error = null;
        switch (node)
        {
            case JsonObject obj:
                var data = new NodeData(obj);
                if (data.Long("target") is not { } target || target is < 1 or > 65535)
                {
                    error = "a long-syntax port needs a target from 1 to 65535";
                    return false;
                }

                port = new ComposePort(data.Str("host_ip"), data.Long("published"), target, data.StrOr("protocol", "tcp"));
                return true;
            case JsonValue value when NodeData.Number(value) is { } number && value.GetValueKind() == System.Text.Json.JsonValueKind.Number:
                if (number is < 1 or > 65535)
                {
                    error = $"port {number} is out of range";
                    return false;
                }

                port = new ComposePort(null, null, number, "tcp");
                return true;
            case JsonValue value when NodeData.Text(value) is { } text:
                var match = PortSyntax().Match(text);
                if (!match.Success)
                {
                    error = text.Contains('-', StringComparison.Ordinal)
                        ? $"port '{text}': ranges are not supported, list each port"
                        : $"port '{text}' is not [ip:][host:]container[/tcp|udp]";
                    return false;
                }

                var container = long.Parse(match.Groups["container"].Value, CultureInfo.InvariantCulture);
                long? host = match.Groups["host"].Success ? long.Parse(match.Groups["host"].Value, CultureInfo.InvariantCulture) : null;
                if (container is < 1 or > 65535 || host is < 1 or > 65535)
                {
                    error = $"port '{text}' is out of range";
                    return false;
                }

                port = new ComposePort(match.Groups["ip"].Success ? match.Groups["ip"].Value : null, host, container, match.Groups["proto"].Success ? match.Groups["proto"].Value : "tcp");
                return true;
            default:
                error = "a port is a number, a string or a mapping";
                return false;
        }
    }

    /// <summary><c>source:target[:ro|rw]</c> (source starting with <c>/</c>, <c>.</c> or <c>~</c> is a bind mount), a bare
    /// target (anonymous volume), or the long syntax.</summary>
    private static ComposeMount? ReadVolume(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                var data = new NodeData(obj);
                if (data.Str("target") is not { } target)
                {
                    return null;
                }

                var source = data.Str("source") ?? string.Empty;
                var type = data.Str("type") ?? (IsPath(source) ? "bind" : "volume");
                return new ComposeMount(source, target, data.Bool("read_only") == true, type);
            case JsonValue value when NodeData.Text(value) is { } text:
                var parts = text.Split(':');
                if (parts.Length == 1)
                {
                    return parts[0].StartsWith('/') ? new ComposeMount(string.Empty, parts[0], false, "volume") : null;
                }

                if (parts.Length > 3 || parts[1].Length == 0)
                {
                    return null;
                }

                var mode = parts.Length == 3 ? parts[2] : "rw";
                return new ComposeMount(parts[0], parts[1], mode.Split(',').Contains("ro"), IsPath(parts[0]) ? "bind" : "volume");
            default:
                return null;
        }
    }

    private static bool IsPath(string source) => source.StartsWith('/') || source.StartsWith('.') || source.StartsWith('~');

    private static IEnumerable<KeyValuePair<string, string>> Environment(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (var (key, value) in obj)
                {
                    yield return new(key, value is null ? string.Empty : NodeData.RawText(value));
                }

                break;
            case JsonArray array:
                foreach (var item in array.Select(NodeData.RawText).Where(item => item.Length > 0))
                {
                    var equals = item.IndexOf('=', StringComparison.Ordinal);
                    yield return equals < 0 ? new(item, string.Empty) : new(item[..equals], item[(equals + 1)..]);
                }

                break;
        }
    }

    private static Dictionary<string, string> Labels(JsonNode? node)
    {
        var labels = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (key, value) in Environment(node))
        {
            labels[key] = value;
        }

        return labels;
    }

    private static List<string> CommandList(JsonNode? node) => node switch
    {
        JsonArray array => [.. array.Select(NodeData.RawText)],
        JsonValue value when NodeData.Text(value) is { } text => [.. text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)],
        _ => [],
    };

    // The host address is an IPv4 address: a bare "8080:80" is host port 8080, not an address 8080.
    [GeneratedRegex(@"^((?<ip>\d{1,3}(\.\d{1,3}){3}):)?((?<host>\d+):)?(?<container>\d+)(/(?<proto>tcp|udp))?$")]
    private static partial Regex PortSyntax();
}

public sealed record ComposeBuild(string Context, string? Dockerfile, Dictionary<string, string> Args, string? Target);

public sealed record ComposePort(string? HostIp, long? HostPort, long ContainerPort, string Protocol);

public sealed record ComposeMount(string Source, string Target, bool ReadOnly, string Type);

public sealed record ComposeResources(string? Cpus, string? Memory);

public sealed record ComposeHealthcheck(List<string> Test, string? Interval, string? Timeout, long? Retries, string? StartPeriod);

public sealed record ComposeVolume(string Name, string? Driver, bool External, Dictionary<string, string> Labels);

public sealed record ComposeNetwork(string Name, string? Driver, bool External);

public sealed class ComposeService
{
    public string Name { get; init; } = string.Empty;

    public string? Image { get; set; }

    public ComposeBuild? Build { get; set; }

    public List<ComposePort> Ports { get; } = [];

    public Dictionary<string, string> Environment { get; } = new(StringComparer.Ordinal);

    public List<string> EnvFile { get; } = [];

    public List<ComposeMount> Volumes { get; } = [];

    public List<string> DependsOn { get; } = [];

    public List<string> Command { get; } = [];

    public List<string> Entrypoint { get; } = [];

    public List<string> Networks { get; } = [];

    public long Replicas { get; set; } = 1;

    public ComposeHealthcheck? Healthcheck { get; set; }

    public Dictionary<string, string> Labels { get; } = new(StringComparer.Ordinal);

    public ComposeResources Limits { get; set; } = new(null, null);

    public ComposeResources Reservations { get; set; } = new(null, null);

    public string? Restart { get; set; }

    public string? WorkingDir { get; set; }
}

public sealed class ComposeModel
{
    public List<ComposeService> Services { get; } = [];

    public List<ComposeVolume> Volumes { get; } = [];

    public List<ComposeNetwork> Networks { get; } = [];

    public List<string> Warnings { get; } = [];

    public List<ComposeError> Errors { get; } = [];
}

public sealed record ComposeError(string Code, string Message, string Service, string Field);
