using System.Text.Json;

namespace Capstan.Features.Fleet.Instances;

/// <summary>The instance resource as seed 004's clients read it (ADR 0015: camelCase), shared by every route that
/// returns instances. <c>online</c> says whether the instance's agent holds a live socket.</summary>
public sealed record InstanceView(
    Guid Id,
    string Name,
    string Provider,
    string? Region,
    string? Distro,
    string[] Extensions,
    string? ConfigHash,
    string? SshEndpoint,
    string? DockerHost,
    string Status,
    Guid? TeamId,
    JsonElement Tags,
    GeoView? Geo,
    string? AgentVersion,
    string? Os,
    string? Arch,
    bool Online,
    DateTime? LastHeartbeatAt,
    DateTime CreatedAt,
    DateTime UpdatedAt);

public sealed record GeoView(double Lat, double Lon, string? Label, string? Source);

/// <summary>An instance row as <see cref="InstanceRow.Columns"/> selects it.</summary>
internal record InstanceRow
{
    /// <summary>The columns of an instance aliased <c>i</c>.</summary>
    public const string Columns = """
        i.id, i.name, i.provider, i.region, i.distro, i.extensions, i.config_hash, i.ssh_endpoint, i.docker_host, i.status,
        i.team_id, i.tags::text AS tags, i.geo_lat, i.geo_lon, i.geo_label, i.geo_source, i.agent_version, i.os, i.arch,
        i.agent_connection_id, i.agent_connected_at, i.last_heartbeat_at, i.created_at, i.updated_at
        """;

    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string Provider { get; init; } = string.Empty;

    public string? Region { get; init; }

    public string? Distro { get; init; }

    public string[] Extensions { get; init; } = [];

    public string? ConfigHash { get; init; }

    public string? SshEndpoint { get; init; }

    public string? DockerHost { get; init; }

    public string Status { get; init; } = "UNKNOWN";

    public Guid? TeamId { get; init; }

    public string Tags { get; init; } = "{}";

    public double? GeoLat { get; init; }

    public double? GeoLon { get; init; }

    public string? GeoLabel { get; init; }

    public string? GeoSource { get; init; }

    public string? AgentVersion { get; init; }

    public string? Os { get; init; }

    public string? Arch { get; init; }

    public Guid? AgentConnectionId { get; init; }

    public DateTime? AgentConnectedAt { get; init; }

    public DateTime? LastHeartbeatAt { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public InstanceView ToView(DateTime now) => new(
        Id,
        Name,
        Provider,
        Region,
        Distro,
        Extensions,
        ConfigHash,
        SshEndpoint,
        DockerHost,
        Status,
        TeamId,
        FleetVocabulary.JsonOrEmpty(Tags),
        GeoLat is { } lat && GeoLon is { } lon ? new GeoView(lat, lon, GeoLabel, GeoSource) : null,
        AgentVersion,
        Os,
        Arch,
        AgentPresence.IsOnline(AgentConnectionId, AgentConnectedAt, LastHeartbeatAt, now),
        LastHeartbeatAt,
        CreatedAt,
        UpdatedAt);
}

/// <summary>Whether an instance's agent holds a socket: a connection is recorded and the agent connected or sent a
/// heartbeat within <see cref="Window"/> (a replica that died leaves its record behind; silence makes it stale).</summary>
internal static class AgentPresence
{
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(2);

    /// <summary>SQL test on an instance row aliased <c>i</c>; needs <c>@PresenceCutoff</c> (now − <see cref="Window"/>).</summary>
    public const string Predicate =
        "(i.agent_connection_id IS NOT NULL AND greatest(i.agent_connected_at, i.last_heartbeat_at) > @PresenceCutoff)";

    public static bool IsOnline(Guid? connectionId, DateTime? connectedAt, DateTime? lastHeartbeatAt, DateTime now)
    {
        if (connectionId is null)
        {
            return false;
        }

        var latest = new[] { connectedAt, lastHeartbeatAt }.Max();
        return latest is { } seen && seen > now - Window;
    }
}
