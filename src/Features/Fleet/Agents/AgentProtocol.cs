using System.Globalization;
using System.Text.Json;
using Capstan.Features.Fleet.Instances;
using Capstan.Features.Fleet.Logs;
using Capstan.Features.Fleet.Metrics;

namespace Capstan.Features.Fleet.Agents;

/// <summary>
/// The agent protocol 1.0 (reference sindri.md §7.2) in both spellings: Mimir's envelope
/// <c>{protocolVersion, channel, type, instanceId?, correlationId?, ts, data}</c> and Draupnir's
/// <c>{protocol_version, type, session_id?, payload}</c>, with camelCase or snake_case fields inside. Maps what agents
/// send onto the fleet's requests, and writes what the service sends (Draupnir's envelope, which both agents read).
/// </summary>
internal static class AgentProtocol
{
    public const string Version = "1.0";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>One message from an agent: its type (normalised: <c>heartbeat</c>, <c>metrics</c>, <c>log:line</c>,
    /// <c>log:batch</c>, <c>event</c>, <c>command:result</c>, <c>backup:result</c> or what it said), the payload and the
    /// correlation id when there is one.</summary>
    public sealed record Message(string Type, JsonElement Payload, string? CorrelationId);

    public static Message? Parse(string text)
    {
        JsonElement root;
        try
        {
            root = JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            return null;
        }

        if (root.ValueKind != JsonValueKind.Object || Text(root, "type") is not { Length: > 0 } type)
        {
            return null;
        }

        var payload = root.TryGetProperty("payload", out var draupnir) ? draupnir
            : root.TryGetProperty("data", out var mimir) ? mimir
            : default;
        var normalised = type switch
        {
            "heartbeat" or "heartbeat:ping" => "heartbeat",
            "metrics" or "metrics:update" => "metrics",
            "event" or "registration" or "event:instance" => "event",
            _ => type,
        };
        return new Message(normalised, payload, Text(root, "correlationId", "correlation_id"));
    }

    /// <summary>A message for the agent in Draupnir's envelope.</summary>
    public static string Envelope(string type, object payload, string? correlationId = null) =>
        JsonSerializer.Serialize(
            correlationId is null
                ? new Dictionary<string, object?> { ["protocol_version"] = Version, ["type"] = type, ["payload"] = payload }
                : new Dictionary<string, object?> { ["protocol_version"] = Version, ["type"] = type, ["correlation_id"] = correlationId, ["payload"] = payload },
            Json);

    public static HeartbeatReport Heartbeat(JsonElement data)
    {
        var extensions = Array(data, "extensions");
        return new HeartbeatReport
        {
            CpuPercent = Number(data, "cpuPercent", "cpu_percent"),
            MemoryUsed = Integer(data, "memoryUsed", "memory_used"),
            MemoryTotal = Integer(data, "memoryTotal", "memory_total"),
            DiskUsed = Integer(data, "diskUsed", "disk_used"),
            DiskTotal = Integer(data, "diskTotal", "disk_total"),
            UptimeSeconds = Integer(data, "uptime", "uptime_seconds", "uptimeSeconds"),
            Distro = Text(data, "distro"),
            AgentVersion = Text(data, "agentVersion", "agent_version", "sindri_version"),
            Extensions = extensions?.All(item => item.ValueKind == JsonValueKind.String) == true
                ? [.. extensions.Select(item => item.GetString()!)]
                : null,
            ExtensionStates = extensions?.All(item => item.ValueKind == JsonValueKind.Object) == true
                ? [.. extensions.Select(item => new HeartbeatReport.ExtensionState(Text(item, "name"), Text(item, "status") ?? "healthy", Text(item, "version")))]
                : null,
            Processes = Array(data, "processes")?.Where(item => item.ValueKind == JsonValueKind.Object).Select(item => new HeartbeatReport.ProcessSample(
                Integer(item, "pid"),
                Text(item, "name"),
                Number(item, "cpuPercent", "cpu_percent"),
                Integer(item, "memoryBytes", "memory_bytes", "rss"),
                Text(item, "status"),
                Text(item, "user"),
                Text(item, "command", "cmdline"))).ToArray(),
            Metrics = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("metrics", out var metrics) ? Metrics(metrics) : null,
            Timestamp = Time(data),
        };
    }

    /// <summary>A metric snapshot, flat (<c>cpuPercent</c>, <c>memUsed</c>…) or Draupnir's nested form (<c>cpu</c>,
    /// <c>memory</c>, <c>disk[]</c> summed over mounts, <c>network</c>).</summary>
    public static MetricSample Metrics(JsonElement data)
    {
        if (data.ValueKind != JsonValueKind.Object)
        {
            return new MetricSample();
        }

        var cpu = Child(data, "cpu");
        var memory = Child(data, "memory");
        var network = Child(data, "network");
        var disks = Array(data, "disk")?.Where(disk => disk.ValueKind == JsonValueKind.Object).ToList();
        return new MetricSample
        {
            CpuPercent = Number(data, "cpuPercent", "cpu_percent") ?? Number(cpu, "usage_percent", "usagePercent"),
            LoadAvg1 = Number(data, "loadAvg1", "load_avg_1") ?? Number(cpu, "load_avg_1", "loadAvg1"),
            LoadAvg5 = Number(data, "loadAvg5", "load_avg_5") ?? Number(cpu, "load_avg_5", "loadAvg5"),
            LoadAvg15 = Number(data, "loadAvg15", "load_avg_15") ?? Number(cpu, "load_avg_15", "loadAvg15"),
            CpuSteal = Number(data, "cpuSteal", "cpu_steal") ?? Number(cpu, "steal_percent", "steal"),
            CoreCount = Integer(data, "coreCount", "core_count") ?? Integer(cpu, "core_count", "coreCount"),
            MemUsed = Integer(data, "memUsed", "mem_used") ?? Integer(memory, "used_bytes", "usedBytes"),
            MemTotal = Integer(data, "memTotal", "mem_total") ?? Integer(memory, "total_bytes", "totalBytes"),
            MemCached = Integer(data, "memCached", "mem_cached") ?? Integer(memory, "cached_bytes", "cachedBytes"),
            SwapUsed = Integer(data, "swapUsed", "swap_used") ?? Integer(memory, "swap_used_bytes", "swapUsedBytes"),
            SwapTotal = Integer(data, "swapTotal", "swap_total") ?? Integer(memory, "swap_total_bytes", "swapTotalBytes"),
            DiskUsed = Integer(data, "diskUsed", "disk_used") ?? Sum(disks, "used_bytes", "usedBytes"),
            DiskTotal = Integer(data, "diskTotal", "disk_total") ?? Sum(disks, "total_bytes", "totalBytes"),
            DiskReadBps = Number(data, "diskReadBps", "disk_read_bps") ?? SumNumber(disks, "read_bps", "readBps"),
            DiskWriteBps = Number(data, "diskWriteBps", "disk_write_bps") ?? SumNumber(disks, "write_bps", "writeBps"),
            NetBytesSent = Integer(data, "netBytesSent", "net_bytes_sent") ?? Integer(network, "bytes_sent", "bytesSent"),
            NetBytesRecv = Integer(data, "netBytesRecv", "net_bytes_recv") ?? Integer(network, "bytes_recv", "bytesRecv"),
            NetPacketsSent = Integer(data, "netPacketsSent", "net_packets_sent") ?? Integer(network, "packets_sent", "packetsSent"),
            NetPacketsRecv = Integer(data, "netPacketsRecv", "net_packets_recv") ?? Integer(network, "packets_recv", "packetsRecv"),
            Timestamp = Time(data),
        };
    }

    /// <summary>A log line: level and source as the agent spells them (<c>warning</c>, <c>extension:python</c>; no
    /// source means the agent), <c>message</c> or <c>line</c>.</summary>
    public static LogEntry LogLine(JsonElement data, Guid instanceId) => new()
    {
        InstanceId = instanceId,
        Level = Text(data, "level") ?? "INFO",
        Source = FleetVocabulary.Source(Text(data, "source")) ?? (Text(data, "source") is null ? "AGENT" : "SYSTEM"),
        Message = Text(data, "message", "line", "msg"),
        Metadata = data.ValueKind == JsonValueKind.Object && data.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object ? metadata : null,
        DeploymentId = Guid.TryParse(Text(data, "deploymentId", "deployment_id"), out var deployment) ? deployment : null,
        Timestamp = Time(data),
    };

    public static LogEntry[] LogBatch(JsonElement data, Guid instanceId) =>
        [.. (Array(data, "lines", "entries") ?? []).Select(line => line.ValueKind == JsonValueKind.String
            ? new LogEntry { InstanceId = instanceId, Level = "INFO", Source = Text(data, "source") ?? "AGENT", Message = line.GetString() }
            : LogLine(line, instanceId))];

    public static string EventType(JsonElement data)
    {
        var type = (Text(data, "eventType", "event_type", "type") ?? "DEPLOY").Trim().ToUpperInvariant().Replace(':', '_').Replace('-', '_');
        return FleetVocabulary.EventTypes.Contains(type) ? type : "DEPLOY";
    }

    public static string? Text(JsonElement element, params string[] names)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var name in names)
        {
            if (element.TryGetProperty(name, out var value))
            {
                return value.ValueKind switch
                {
                    JsonValueKind.String => value.GetString(),
                    JsonValueKind.Number => value.GetRawText(),
                    _ => null,
                };
            }
        }

        return null;
    }

    public static long? Integer(JsonElement element, params string[] names) =>
        Number(element, names) is { } number && double.IsFinite(number) && Math.Abs(number) < 9e18 ? (long)Math.Round(number) : null;

    public static double? Number(JsonElement element, params string[] names)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var name in names)
        {
            if (element.TryGetProperty(name, out var value))
            {
                if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number))
                {
                    return number;
                }

                if (value.ValueKind == JsonValueKind.String
                    && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
                {
                    return parsed;
                }
            }
        }

        return null;
    }

    private static JsonElement Child(JsonElement element, string name) =>
        element.ValueKind == JsonValueKind.Object && element.TryGetProperty(name, out var child) && child.ValueKind == JsonValueKind.Object ? child : default;

    private static List<JsonElement>? Array(JsonElement element, params string[] names)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            return null;
        }

        foreach (var name in names)
        {
            if (element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array)
            {
                return [.. value.EnumerateArray()];
            }
        }

        return null;
    }

    private static long? Sum(List<JsonElement>? items, params string[] names) =>
        items is { Count: > 0 } ? items.Sum(item => Integer(item, names) ?? 0) : null;

    private static double? SumNumber(List<JsonElement>? items, params string[] names) =>
        items is { Count: > 0 } && items.Any(item => Number(item, names) is not null) ? items.Sum(item => Number(item, names) ?? 0) : null;

    /// <summary>The sample time: <c>ts</c> in epoch milliseconds, or <c>timestamp</c> as ISO-8601 or epoch seconds.</summary>
    private static DateTimeOffset? Time(JsonElement data)
    {
        if (Number(data, "ts") is { } milliseconds)
        {
            return DateTimeOffset.FromUnixTimeMilliseconds((long)milliseconds);
        }

        if (Text(data, "timestamp") is { } text)
        {
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed))
            {
                return parsed;
            }

            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds))
            {
                return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
            }
        }

        return null;
    }
}
