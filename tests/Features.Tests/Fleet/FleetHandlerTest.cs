using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet;

/// <summary>The fleet area's handler tests run on a service and database of their own, with short notification
/// timings and no SMTP server configured.</summary>
public sealed class FleetHandlerFixture : ApiFixture
{
    protected override string Purpose => "fleet_handlers";

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, new Dictionary<string, string?>
    {
        ["Fleet:Notifications:RetryDelayMs"] = "10",
        ["Fleet:Notifications:TimeoutSeconds"] = "2",
        ["Fleet:Notifications:MaxAttempts"] = "3",
        ["Fleet:Retention:LogDays"] = "3",
        ["Fleet:Retention:MetricDays"] = "3",
        ["Fleet:Retention:HeartbeatDays"] = "3",
    });
}

[CollectionDefinition(Name)]
public sealed class FleetHandlerCollection : ICollectionFixture<FleetHandlerFixture>
{
    public const string Name = "fleet-handlers";
}

[Collection(FleetHandlerCollection.Name)]
public abstract class FleetHandlerTest(FleetHandlerFixture fixture) : HandlerTest<FleetHandlerFixture>(fixture)
{
    protected async Task<Guid> InstanceAsync(string name, string status = "RUNNING", DateTime? lastHeartbeat = null, DateTime? createdAt = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.instances (id, name, provider, status, last_heartbeat_at, created_at, updated_at)
            VALUES (@Id, @Name, 'fly', @Status, @LastHeartbeat, COALESCE(@CreatedAt, now()), COALESCE(@CreatedAt, now()))
            """,
            new { Id = id, Name = name, Status = status, LastHeartbeat = lastHeartbeat, CreatedAt = createdAt });
        return id;
    }

    protected async Task<Guid> RuleAsync(string type, string conditions, Guid? instance = null, long cooldownSec = 300, string severity = "HIGH")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.alert_rules (id, name, type, severity, instance_id, conditions, cooldown_sec) VALUES (@Id, @Name, @Type, @Severity, @Instance, CAST(@Conditions AS jsonb), @Cooldown)",
            new { Id = id, Name = $"{type.ToLowerInvariant()} rule", Type = type, Severity = severity, Instance = instance, Conditions = conditions, Cooldown = cooldownSec });
        return id;
    }

    protected Task MetricAsync(Guid instance, DateTime at, double cpu = 0, long memUsed = 0, long memTotal = 0, long? netRecv = null) =>
        Fixture.ExecuteAsync(
            "INSERT INTO fleet.metrics (instance_id, recorded_at, cpu_percent, mem_used, mem_total, net_bytes_recv) VALUES (@Instance, @At, @Cpu, @MemUsed, @MemTotal, @NetRecv)",
            new { Instance = instance, At = at, Cpu = cpu, MemUsed = memUsed, MemTotal = memTotal, NetRecv = netRecv });
}
