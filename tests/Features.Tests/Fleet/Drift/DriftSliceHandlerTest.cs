namespace Capstan.Features.Tests.Fleet.Drift;

/// <summary>Arrange-helpers of the drift slices' handler tests: instances (of a team or none), deployed instances,
/// snapshots, drift events and remediations written straight to the database.</summary>
public abstract class DriftSliceHandlerTest(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    /// <summary>A team the test callers are not in.</summary>
    protected static readonly Guid OtherTeam = Guid.CreateVersion7();

    /// <summary>Declares nodejs 22, python, <c>LOG_LEVEL=debug</c> and a vault-fed <c>API_TOKEN</c>.</summary>
    protected const string Yaml = """
        name: devbox
        extensions:
          active: [nodejs@22, python]
        env:
          LOG_LEVEL: debug
          API_TOKEN: from-vault
        """;

    protected async Task<Guid> DriftInstanceAsync(string name, Guid? team = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.instances (id, name, provider, region, status, team_id) VALUES (@Id, @Name, 'fly', 'sea', 'RUNNING', @Team)",
            new { Id = id, Name = name, Team = team });
        return id;
    }

    /// <summary>An instance deployed with <see cref="Yaml"/> that reports nodejs 20 and rust.</summary>
    protected async Task<Guid> DeployedAsync(string name = "devbox", Guid? team = null)
    {
        var id = await DriftInstanceAsync(name, team);
        await Fixture.ExecuteAsync(
            """
            UPDATE fleet.instances SET extension_states = '[{"name":"nodejs","status":"active","version":"20"},{"name":"rust","status":"active","version":"1.80"}]' WHERE id = @Id;
            INSERT INTO fleet.deployments (id, name, instance_id, config_hash, yaml_content, provider, region, vm_size, memory_gb, storage_gb, status)
            VALUES (platform.uuid_v7(), @Name, @Id, 'hash', @Yaml, 'fly', 'sea', 'medium', 4, 20, 'SUCCEEDED');
            """,
            new { Id = id, Name = name, Yaml });
        return id;
    }

    protected async Task<Guid> SnapshotAsync(Guid instance, DateTime takenAt, string status = "DRIFTED", string declared = """{"region":"sea"}""", string actual = """{"region":"lhr"}""", string? error = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.config_snapshots (id, instance_id, taken_at, declared, actual, config_hash, drift_status, error, triggered_by)
            VALUES (@Id, @Instance, @TakenAt, CAST(@Declared AS jsonb), CAST(@Actual AS jsonb), @Hash, @Status, @Error, 'system:test')
            """,
            new { Id = id, Instance = instance, TakenAt = takenAt, Declared = declared, Actual = actual, Hash = $"hash-{status.ToLowerInvariant()}", Status = status, Error = error });
        return id;
    }

    protected async Task<Guid> EventAsync(
        Guid snapshot, Guid instance, string fieldPath, DateTime detectedAt, string severity = "MEDIUM", string? command = "sindri fix", DateTime? resolvedAt = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.drift_events
                (id, snapshot_id, instance_id, detected_at, field_path, declared_val, actual_val, severity, description, remediation_action, remediation_command, resolved_at, resolved_by)
            VALUES (@Id, @Snapshot, @Instance, @DetectedAt, @FieldPath, 'declared', 'actual', @Severity, @Description, 'Fix ' || @FieldPath, @Command, @ResolvedAt,
                    CASE WHEN @ResolvedAt::timestamptz IS NULL THEN NULL ELSE 'user:test' END)
            """,
            new { Id = id, Snapshot = snapshot, Instance = instance, DetectedAt = detectedAt, FieldPath = fieldPath, Severity = severity, Description = $"{fieldPath} drifted", Command = command, ResolvedAt = resolvedAt });
        return id;
    }

    protected async Task<Guid> RemediationAsync(Guid driftEvent, Guid instance, string status = "PENDING", string? command = "sindri fix")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.drift_remediations (id, drift_event_id, instance_id, action, command, status) VALUES (@Id, @Event, @Instance, 'Fix it', @Command, @Status)",
            new { Id = id, Event = driftEvent, Instance = instance, Command = command, Status = status });
        return id;
    }

    /// <summary>The audit rows of <paramref name="action"/>, as "resource_type resource_id resource_name".</summary>
    protected Task<List<string>> AuditAsync(string action) =>
        Fixture.QueryAsync<string>(
            "SELECT concat_ws(' ', resource_type, resource_id, resource_name) FROM identity.audit_log WHERE action = @Action ORDER BY occurred_at", new { Action = action });
}
