using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Features.Fleet.Deployments;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using YamlDotNet.RepresentationModel;

namespace Capstan.Features.Fleet.Drift;

/// <summary>
/// Takes configuration snapshots. <b>Declared</b> is what the instance should be: provider and region, and from the
/// YAML of its latest SUCCEEDED deployment the extensions (<c>name</c> or <c>name@version</c>), the <c>env:</c> mapping,
/// <c>network: {hostname, ports}</c> and the deployment's memory; without a deployment, what it was registered with.
/// <b>Actual</b> is what it reports: provider and region, the extension states of its last heartbeat, memory of its
/// last heartbeat and cores of its last metrics sample, plus whatever the caller passes (an agent or operator may
/// report <c>env</c>, <c>network</c> and more). Each finding of <see cref="DriftComparison"/> that is not already an
/// unresolved event of the instance becomes one; unresolved events whose drift is gone resolve as
/// <c>system:drift-cleared</c>. A configuration that cannot be read gives an ERROR snapshot.
/// </summary>
internal static class DriftDetector
{
    public sealed record Result(Guid SnapshotId, string DriftStatus, int Findings, int NewEvents, int Cleared);

    private const string Instance = """
        SELECT i.id, i.name, i.provider, i.region, i.extensions, i.extension_states::text AS extension_states,
               (SELECT h.memory_total FROM fleet.heartbeats h WHERE h.instance_id = i.id ORDER BY h.recorded_at DESC LIMIT 1) AS memory_total,
               (SELECT m.core_count FROM fleet.metrics m WHERE m.instance_id = i.id AND m.core_count IS NOT NULL ORDER BY m.recorded_at DESC LIMIT 1) AS core_count,
               d.yaml_content, d.provider AS deployed_provider, d.region AS deployed_region, d.memory_gb
        FROM fleet.instances i
        LEFT JOIN LATERAL (
            SELECT d.yaml_content, d.provider, d.region, d.memory_gb FROM fleet.deployments d
            WHERE d.instance_id = i.id AND d.status = 'SUCCEEDED' ORDER BY d.started_at DESC LIMIT 1
        ) d ON true
        WHERE i.id = @Id
        """;

    private const string InsertSnapshot = """
        INSERT INTO fleet.config_snapshots (id, instance_id, taken_at, declared, actual, config_hash, drift_status, error, triggered_by)
        VALUES (@Id, @InstanceId, @Now, CAST(@Declared AS jsonb), CAST(@Actual AS jsonb), @ConfigHash, @DriftStatus, @Error, @TriggeredBy)
        """;

    private const string Open = "SELECT id, field_path, declared_val, actual_val FROM fleet.drift_events WHERE instance_id = @InstanceId AND resolved_at IS NULL";

    private const string InsertEvent = """
        INSERT INTO fleet.drift_events (id, snapshot_id, instance_id, detected_at, field_path, declared_val, actual_val, severity, description, remediation_action, remediation_command)
        VALUES (@Id, @SnapshotId, @InstanceId, @Now, @FieldPath, @DeclaredVal, @ActualVal, @Severity, @Description, @Action, @Command)
        """;

    private const string Clear = "UPDATE fleet.drift_events SET resolved_at = @Now, resolved_by = 'system:drift-cleared' WHERE id = ANY(@Ids) AND resolved_at IS NULL";

    /// <summary>Snapshots one instance; 404 when it does not exist.</summary>
    public static async Task<Result> SnapshotAsync(DbSession db, Guid instanceId, JsonObject? reported, string triggeredBy, DateTime now, CancellationToken cancellationToken)
    {
        var row = await db.QuerySingleOrDefaultAsync<InstanceRow>(Instance, new { Id = instanceId }, cancellationToken)
            ?? throw new NotFoundException($"Instance '{instanceId}' not found");
        var snapshotId = Guid.CreateVersion7();
        JsonObject declared;
        JsonObject actual = Actual(row, reported);
        string? error = null;
        try
        {
            declared = Declared(row);
        }
        catch (Exception exception) when (exception is ApiException or YamlDotNet.Core.YamlException)
        {
            declared = new JsonObject { ["provider"] = row.Provider, ["region"] = row.Region };
            error = $"The declared configuration could not be read: {exception.Message}";
        }

        var findings = error is null ? DriftComparison.Compare(declared, actual) : [];
        var status = error is not null ? "ERROR" : findings.Count > 0 ? "DRIFTED" : "CLEAN";
        var declaredJson = declared.ToJsonString();
        await db.ExecuteAsync(
            InsertSnapshot,
            new
            {
                Id = snapshotId,
                InstanceId = instanceId,
                Now = now,
                Declared = declaredJson,
                Actual = actual.ToJsonString(),
                ConfigHash = Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(declaredJson))),
                DriftStatus = status,
                Error = error,
                TriggeredBy = triggeredBy,
            },
            cancellationToken);
        if (error is not null)
        {
            return new Result(snapshotId, status, 0, 0, 0);
        }

        var open = await db.QueryAsync<OpenEvent>(Open, new { InstanceId = instanceId }, cancellationToken);
        var created = 0;
        foreach (var finding in findings)
        {
            if (open.Any(known => known.FieldPath == finding.FieldPath && known.DeclaredVal == finding.DeclaredVal && known.ActualVal == finding.ActualVal))
            {
                continue;
            }

            created++;
            await db.ExecuteAsync(
                InsertEvent,
                new
                {
                    Id = Guid.CreateVersion7(),
                    SnapshotId = snapshotId,
                    InstanceId = instanceId,
                    Now = now,
                    finding.FieldPath,
                    finding.DeclaredVal,
                    finding.ActualVal,
                    finding.Severity,
                    finding.Description,
                    finding.Action,
                    finding.Command,
                },
                cancellationToken);
        }

        var gone = open.Where(known => !findings.Any(finding => finding.FieldPath == known.FieldPath && finding.DeclaredVal == known.DeclaredVal && finding.ActualVal == known.ActualVal))
            .Select(known => known.Id).ToArray();
        if (gone.Length > 0)
        {
            await db.ExecuteAsync(Clear, new { Ids = gone, Now = now }, cancellationToken);
        }

        return new Result(snapshotId, status, findings.Count, created, gone.Length);
    }

    private static JsonObject Declared(InstanceRow row)
    {
        var declared = new JsonObject { ["provider"] = row.DeployedProvider ?? row.Provider, ["region"] = row.DeployedRegion ?? row.Region };
        if (row.YamlContent is null)
        {
            declared["extensions"] = new JsonArray([.. row.Extensions.Select(Extension)]);
            return declared;
        }

        var summary = DeploymentConfig.Check(row.YamlContent, "yaml_content");
        declared["extensions"] = new JsonArray([.. summary.Extensions.Select(Extension)]);
        var stream = new YamlStream();
        stream.Load(new StringReader(row.YamlContent));
        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        if (Child(root, "env") is YamlMappingNode env)
        {
            var variables = new JsonObject();
            foreach (var (key, value) in env.Children)
            {
                if (key is YamlScalarNode { Value: { } name } && value is YamlScalarNode scalar)
                {
                    variables[name] = scalar.Value ?? string.Empty;
                }
            }

            declared["env"] = variables;
        }

        if (Child(root, "network") is YamlMappingNode network)
        {
            var node = new JsonObject();
            if (Child(network, "hostname") is YamlScalarNode { Value: { } hostname })
            {
                node["hostname"] = hostname;
            }

            if (Child(network, "ports") is YamlSequenceNode ports)
            {
                node["ports"] = new JsonArray([.. ports.OfType<YamlScalarNode>().Select(port => (JsonNode?)JsonValue.Create(port.Value))]);
            }

            declared["network"] = node;
        }

        if (row.MemoryGb is { } memory)
        {
            declared["resources"] = new JsonObject { ["memory_gb"] = memory };
        }

        return declared;
    }

    private static JsonObject Actual(InstanceRow row, JsonObject? reported)
    {
        var actual = new JsonObject { ["provider"] = row.Provider, ["region"] = row.Region };
        using (var states = JsonDocument.Parse(row.ExtensionStates ?? "[]"))
        {
            if (states.RootElement.ValueKind == JsonValueKind.Array && states.RootElement.GetArrayLength() > 0)
            {
                actual["extensions"] = JsonNode.Parse(states.RootElement.GetRawText());
            }
        }

        var resources = new JsonObject();
        if (row.MemoryTotal is > 0)
        {
            resources["memory_gb"] = Math.Round(row.MemoryTotal.Value / (1024d * 1024 * 1024), 2);
        }

        if (row.CoreCount is { } cores)
        {
            resources["cpus"] = cores;
        }

        if (resources.Count > 0)
        {
            actual["resources"] = resources;
        }

        foreach (var (key, value) in reported ?? [])
        {
            actual[key] = value?.DeepClone();
        }

        return actual;
    }

    private static JsonObject Extension(string entry)
    {
        var at = entry.IndexOf('@', StringComparison.Ordinal);
        return at > 0 ? new JsonObject { ["name"] = entry[..at], ["version"] = entry[(at + 1)..] } : new JsonObject { ["name"] = entry };
    }

    private static YamlNode? Child(YamlMappingNode map, string key) =>
        map.Children.FirstOrDefault(pair => pair.Key is YamlScalarNode scalar && scalar.Value == key).Value;

    private sealed record InstanceRow
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;

        public string? Region { get; init; }

        public string[] Extensions { get; init; } = [];

        public string? ExtensionStates { get; init; }

        public long? MemoryTotal { get; init; }

        public long? CoreCount { get; init; }

        public string? YamlContent { get; init; }

        public string? DeployedProvider { get; init; }

        public string? DeployedRegion { get; init; }

        public long? MemoryGb { get; init; }
    }

    private sealed record OpenEvent
    {
        public Guid Id { get; init; }

        public string FieldPath { get; init; } = string.Empty;

        public string? DeclaredVal { get; init; }

        public string? ActualVal { get; init; }
    }
}

/// <summary>Snapshots every RUNNING or SUSPENDED instance every <c>Fleet:Drift:IntervalMinutes</c> (60), once per
/// fleet under the job's advisory lock.</summary>
public sealed class DriftDetection(IServiceProvider services, ILogger<DriftDetection> logger) : RecurringJob(services, logger)
{
    private readonly TimeSpan _interval = TimeSpan.FromMinutes(Math.Max(1, services.GetRequiredService<IConfiguration>().GetValue("Fleet:Drift:IntervalMinutes", 60)));
    private readonly ILogger _logger = logger;

    public override string Name => "fleet-drift-detection";

    public override TimeSpan Interval => _interval;

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(45);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var now = scope.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var drifted = 0;
        var ids = await db.QueryAsync<Guid>("SELECT id FROM fleet.instances WHERE status IN ('RUNNING', 'SUSPENDED') ORDER BY id", null, cancellationToken);
        foreach (var id in ids)
        {
            var result = await DriftDetector.SnapshotAsync(db, id, null, "scheduler", now, cancellationToken);
            drifted += result.DriftStatus == "DRIFTED" ? 1 : 0;
        }

        if (ids.Count > 0)
        {
            _logger.LogInformation("Drift detection: {Instances} instances checked, {Drifted} drifted", ids.Count, drifted);
        }
    }
}
