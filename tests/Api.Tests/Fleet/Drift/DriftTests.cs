using System.Net;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Drift;

public sealed class DriftTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] EventFields =
    [
        "id", "snapshotId", "instanceId", "instanceName", "detectedAt", "fieldPath", "declaredVal", "actualVal", "severity", "description", "remediationAction",
        "remediationCommand", "resolved", "resolvedAt", "resolvedBy", "remediation",
    ];

    private const string Yaml = """
        name: devbox
        extensions:
          active: [nodejs@22, python]
        env:
          LOG_LEVEL: debug
          API_TOKEN: from-vault
        """;

    /// <summary>An instance deployed with <see cref="Yaml"/> that reports nodejs 20 and rust.</summary>
    private async Task<Guid> DeployedAsync(string name = "devbox")
    {
        var id = await SeedInstanceAsync(name);
        await Fixture.ExecuteAsync(
            """
            UPDATE fleet.instances SET extension_states = '[{"name":"nodejs","status":"active","version":"20"},{"name":"rust","status":"active","version":"1.80"}]' WHERE id = @Id;
            INSERT INTO fleet.deployments (id, name, instance_id, config_hash, yaml_content, provider, region, vm_size, memory_gb, storage_gb, status)
            VALUES (platform.uuid_v7(), @Name, @Id, 'hash', @Yaml, 'fly', 'sea', 'medium', 4, 20, 'SUCCEEDED');
            """,
            new { Id = id, Name = name, Yaml });
        return id;
    }

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private async Task<JsonElement> TriggerAsync(HttpClient client, Guid instance, string body = "{\"actual\":{\"env\":{\"LOG_LEVEL\":\"info\"}}}") =>
        await (await client.PostAsync($"/api/v1/drift/snapshots/{instance}/trigger", Json(body))).ShouldBeJsonAsync(HttpStatusCode.Created);

    [Fact]
    public async Task A_check_compares_the_deployed_configuration_with_what_the_instance_reports()
    {
        var instance = await DeployedAsync();
        var client = await As(BaseRole.Operator);

        var result = await TriggerAsync(client, instance);

        result.PropertyNames().ShouldBe(["snapshotId", "driftStatus", "findings", "newEvents", "cleared"]);
        result.GetProperty("driftStatus").GetString().ShouldBe("DRIFTED");
        var snapshot = await (await client.GetAsync($"/api/v1/drift/snapshots/{result.GetProperty("snapshotId").GetGuid()}")).ShouldBeJsonAsync();
        snapshot.PropertyNames().ShouldBe(
            ["id", "instanceId", "instanceName", "takenAt", "configHash", "driftStatus", "error", "triggeredBy", "driftEventCount", "unresolvedCount", "declared", "actual", "driftEvents"]);
        snapshot.GetProperty("configHash").GetString()!.Length.ShouldBe(64);
        snapshot.GetProperty("declared").GetProperty("env").GetProperty("LOG_LEVEL").GetString().ShouldBe("debug");
        var events = snapshot.GetProperty("driftEvents").EnumerateArray()
            .Select(item => (item.GetProperty("fieldPath").GetString(), item.GetProperty("severity").GetString(), item.GetProperty("declaredVal").GetString(), item.GetProperty("actualVal").GetString(),
                item.GetProperty("remediationCommand").GetString()))
            .OrderBy(item => item.Item1)
            .ToList();
        events.ShouldBe(
        [
            ("env.API_TOKEN", "HIGH", "<redacted>", null, null),
            ("env.LOG_LEVEL", "MEDIUM", "debug", "info", "sindri env set LOG_LEVEL=\"debug\""),
            ("extensions.nodejs.version", "MEDIUM", "22", "20", "sindri extension upgrade nodejs@22"),
            ("extensions.python.present", "HIGH", "installed", "missing", "sindri extension install python"),
            ("extensions.rust.declared", "LOW", null, "1.80", null),
        ]);
        snapshot.GetProperty("driftEvents")[0].PropertyNames().ShouldBe(EventFields);

        // The same drift found again is not a new event.
        (await TriggerAsync(client, instance)).GetProperty("newEvents").GetInt32().ShouldBe(0);
        // Fixed by hand: the LOG_LEVEL event clears.
        var fixedEnv = await TriggerAsync(client, instance, "{\"actual\":{\"env\":{\"LOG_LEVEL\":\"debug\"}}}");
        fixedEnv.GetProperty("cleared").GetInt32().ShouldBe(1);
    }

    [Fact]
    public async Task An_instance_without_drift_is_clean_and_unknown_ones_are_404()
    {
        var instance = await SeedInstanceAsync("plain");
        var client = await As(BaseRole.Operator);

        (await TriggerAsync(client, instance, "{}")).GetProperty("driftStatus").GetString().ShouldBe("CLEAN");
        await (await client.PostAsync($"/api/v1/drift/snapshots/{Guid.CreateVersion7()}/trigger", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync($"/api/v1/drift/snapshots/{instance}/trigger", Json("{\"actual\":[1]}"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.GetAsync($"/api/v1/drift/snapshots/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/drift/instances/{Guid.CreateVersion7()}/latest")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Lists_summary_and_latest_show_the_drift()
    {
        var instance = await DeployedAsync();
        var clean = await SeedInstanceAsync("clean");
        var client = await As(BaseRole.Operator);
        await TriggerAsync(client, instance);
        await TriggerAsync(client, clean, "{}");
        var viewer = await As(BaseRole.Viewer);

        var snapshots = await (await viewer.GetAsync("/api/v1/drift/snapshots?pageSize=1")).ShouldBeJsonAsync();
        snapshots.PropertyNames().ShouldBe(["snapshots", "data", "total", "page", "pageSize", "totalPages", "pagination"]);
        snapshots.GetProperty("total").GetInt32().ShouldBe(2);
        snapshots.GetProperty("snapshots")[0].PropertyNames().ShouldBe(
            ["id", "instanceId", "instanceName", "takenAt", "configHash", "driftStatus", "error", "triggeredBy", "driftEventCount", "unresolvedCount"]);
        (await (await viewer.GetAsync("/api/v1/drift/snapshots?driftStatus=drifted")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(1);
        await (await viewer.GetAsync("/api/v1/drift/snapshots?driftStatus=weird")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var events = await (await viewer.GetAsync("/api/v1/drift/events?severity=HIGH")).ShouldBeJsonAsync();
        events.PropertyNames().ShouldBe(["events", "data", "total", "page", "pageSize", "totalPages", "pagination"]);
        events.GetProperty("total").GetInt32().ShouldBe(2);
        await (await viewer.GetAsync("/api/v1/drift/events?severity=URGENT")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var summary = await (await viewer.GetAsync("/api/v1/drift/summary")).ShouldBeJsonAsync();
        summary.PropertyNames().ShouldBe(["byStatus", "bySeverity", "totalUnresolved", "instancesWithDrift", "totalSnapshots", "recentEvents"]);
        summary.GetProperty("byStatus").GetProperty("DRIFTED").GetInt32().ShouldBe(1);
        summary.GetProperty("byStatus").GetProperty("CLEAN").GetInt32().ShouldBe(1);
        summary.GetProperty("bySeverity").GetProperty("HIGH").GetInt32().ShouldBe(2);
        summary.GetProperty("totalUnresolved").GetInt32().ShouldBe(5);
        summary.GetProperty("instancesWithDrift").GetInt32().ShouldBe(1);

        var latest = await (await viewer.GetAsync($"/api/v1/drift/instances/{instance}/latest")).ShouldBeJsonAsync();
        latest.GetProperty("driftEvents").GetArrayLength().ShouldBe(5);
    }

    [Fact]
    public async Task Events_resolve_once_and_remediations_run_as_commands_on_the_instance()
    {
        var instance = await DeployedAsync();
        var client = await As(BaseRole.Operator);
        await TriggerAsync(client, instance);
        var events = (await (await client.GetAsync("/api/v1/drift/events")).ShouldBeJsonAsync()).GetProperty("events").EnumerateArray().ToList();
        Guid EventOf(string path) => events.Single(item => item.GetProperty("fieldPath").GetString() == path).GetProperty("id").GetGuid();

        var resolved = await (await client.PostAsync($"/api/v1/drift/events/{EventOf("env.API_TOKEN")}/resolve", null)).ShouldBeJsonAsync();
        resolved.GetProperty("resolved").GetBoolean().ShouldBeTrue();
        resolved.GetProperty("resolvedBy").GetString()!.ShouldStartWith("user:");
        await (await client.PostAsync($"/api/v1/drift/events/{EventOf("env.API_TOKEN")}/resolve", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await client.PostAsync($"/api/v1/drift/events/{Guid.CreateVersion7()}/resolve", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync($"/api/v1/drift/events/{EventOf("env.API_TOKEN")}/remediate", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);

        var created = await client.PostAsync($"/api/v1/drift/events/{EventOf("extensions.python.present")}/remediate", null);
        var remediation = await created.ShouldBeJsonAsync(HttpStatusCode.Created);
        remediation.PropertyNames().ShouldBe(
            ["id", "driftEventId", "instanceId", "action", "command", "status", "commandExecutionId", "triggeredBy", "createdAt", "startedAt", "completedAt", "output", "error"]);
        remediation.GetProperty("status").GetString().ShouldBe("PENDING");
        var id = remediation.GetProperty("id").GetGuid();
        (await (await client.PostAsync($"/api/v1/drift/events/{EventOf("extensions.python.present")}/remediate", null)).ShouldBeJsonAsync()).GetProperty("id").GetGuid().ShouldBe(id);

        var offline = await (await client.PostAsync($"/api/v1/drift/remediations/{id}/execute", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        offline.GetProperty("message").GetString().ShouldBe("Agent for instance 'devbox' is not connected: the remediation was not run and stays PENDING; retry once the agent is back");

        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, instance.ToString(), await Fixture.CreateApiKeyAsync(user));
        var executed = await (await client.PostAsync($"/api/v1/drift/remediations/{id}/execute", null)).ShouldBeJsonAsync();
        executed.GetProperty("status").GetString().ShouldBe("SUCCEEDED");
        executed.GetProperty("output").GetString().ShouldBe("ran /bin/sh");
        var dispatched = agent.Dispatched.ShouldHaveSingleItem();
        dispatched.GetProperty("args").EnumerateArray().Select(arg => arg.GetString()).ShouldBe(["-c", "sindri extension install python"]);
        (await (await client.GetAsync($"/api/v1/commands/{executed.GetProperty("commandExecutionId").GetGuid()}")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("SUCCEEDED");
        (await Fixture.ScalarAsync<string>("SELECT resolved_by FROM fleet.drift_events WHERE id = @Id", new { Id = EventOf("extensions.python.present") })).ShouldBe($"remediation:{id}");
        await (await client.PostAsync($"/api/v1/drift/remediations/{id}/execute", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await client.PostAsync($"/api/v1/drift/remediations/{id}/dismiss", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);

        var manual = (await (await client.PostAsync($"/api/v1/drift/events/{EventOf("extensions.rust.declared")}/remediate", null)).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        (await (await client.PostAsync($"/api/v1/drift/remediations/{manual}/execute", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString()!
            .ShouldStartWith("Remediation has no command: manual action required");
        (await (await client.PostAsync($"/api/v1/drift/remediations/{manual}/dismiss", null)).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("DISMISSED");
        await (await client.PostAsync($"/api/v1/drift/remediations/{Guid.CreateVersion7()}/dismiss", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostAsync($"/api/v1/drift/remediations/{Guid.CreateVersion7()}/execute", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
