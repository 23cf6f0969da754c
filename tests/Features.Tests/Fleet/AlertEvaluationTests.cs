using Capstan.Features.Fleet.Alerts;
using Capstan.Infrastructure.Crypto;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Fleet;

/// <summary>The alert evaluator and its notifications, rule type by rule type, on the real database.</summary>
public sealed class AlertEvaluationTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private AlertEvaluation Job => Fixture.Services.GetRequiredService<AlertEvaluation>();

    private async Task<AlertEvaluator.Outcome> EvaluateAsync()
    {
        (await Job.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        return Job.LastOutcome!;
    }

    private Task<List<Alert>> AlertsAsync() =>
        Fixture.QueryAsync<Alert>("SELECT id, instance_id, status, title, message, resolved_by, metadata::text AS metadata FROM fleet.alerts ORDER BY fired_at, id");

    private sealed record Alert
    {
        public Guid Id { get; init; }

        public Guid? InstanceId { get; init; }

        public string Status { get; init; } = string.Empty;

        public string Title { get; init; } = string.Empty;

        public string Message { get; init; } = string.Empty;

        public string? ResolvedBy { get; init; }

        public string Metadata { get; init; } = "{}";
    }

    [Fact]
    public async Task Threshold_fires_on_the_latest_sample_once_per_instance_and_resolves_when_it_clears()
    {
        var hot = await InstanceAsync("hot");
        var cool = await InstanceAsync("cool");
        await MetricAsync(hot, DateTime.UtcNow.AddMinutes(-2), cpu: 20);
        await MetricAsync(hot, DateTime.UtcNow.AddMinutes(-1), cpu: 91.25);
        await MetricAsync(cool, DateTime.UtcNow.AddMinutes(-1), cpu: 10);
        await RuleAsync("THRESHOLD", "{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":90,\"duration_sec\":0}");

        var first = await EvaluateAsync();
        var again = await EvaluateAsync();

        first.Fired.Count.ShouldBe(1);
        first.Evaluations.ShouldBe(2);
        again.Fired.ShouldBeEmpty();
        var alert = (await AlertsAsync()).ShouldHaveSingleItem();
        alert.InstanceId.ShouldBe(hot);
        alert.Title.ShouldBe("CPU usage threshold exceeded on hot");
        alert.Message.ShouldBe("CPU usage is 91.3% (threshold: gt 90%)");

        await MetricAsync(hot, DateTime.UtcNow, cpu: 40);
        var cleared = await EvaluateAsync();

        cleared.Resolved.ShouldBe([alert.Id]);
        (await AlertsAsync()).Single().ResolvedBy.ShouldBe("system:auto-resolution");
    }

    [Fact]
    public async Task Memory_and_disk_thresholds_use_percentages_and_stale_samples_decide_nothing()
    {
        var full = await InstanceAsync("full");
        var stale = await InstanceAsync("stale");
        await MetricAsync(full, DateTime.UtcNow.AddMinutes(-1), memUsed: 950, memTotal: 1000);
        await MetricAsync(stale, DateTime.UtcNow.AddMinutes(-30), memUsed: 999, memTotal: 1000);
        await RuleAsync("THRESHOLD", "{\"metric\":\"mem_percent\",\"operator\":\"gte\",\"threshold\":95}");

        var outcome = await EvaluateAsync();

        outcome.Fired.Count.ShouldBe(1);
        (await AlertsAsync()).Single().InstanceId.ShouldBe(full);
    }

    [Fact]
    public async Task A_duration_needs_the_condition_to_hold_for_every_sample_of_the_window()
    {
        var spiky = await InstanceAsync("spiky");
        var steady = await InstanceAsync("steady");
        var now = DateTime.UtcNow;
        foreach (var (offset, cpu) in new[] { (-200, 95.0), (-100, 30.0), (-10, 96.0) })
        {
            await MetricAsync(spiky, now.AddSeconds(offset), cpu: cpu);
            await MetricAsync(steady, now.AddSeconds(offset), cpu: 95);
        }

        await RuleAsync("THRESHOLD", "{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":90,\"duration_sec\":300}");

        await EvaluateAsync();

        (await AlertsAsync()).Single().InstanceId.ShouldBe(steady);
    }

    [Fact]
    public async Task Cooldown_keeps_a_resolved_rule_from_firing_again_too_soon()
    {
        var flapping = await InstanceAsync("flapping");
        await MetricAsync(flapping, DateTime.UtcNow.AddMinutes(-1), cpu: 99);
        var rule = await RuleAsync("THRESHOLD", "{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":90}", cooldownSec: 600);
        await EvaluateAsync();
        await Fixture.ExecuteAsync("UPDATE fleet.alerts SET status = 'RESOLVED', resolved_at = now()");

        var suppressed = await EvaluateAsync();

        suppressed.Suppressed.ShouldBe(1);
        suppressed.Fired.ShouldBeEmpty();
        await Fixture.ExecuteAsync("UPDATE fleet.alerts SET fired_at = now() - interval '11 minutes'");
        (await EvaluateAsync()).Fired.Count.ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alerts WHERE rule_id = @Rule", new { Rule = rule })).ShouldBe(2);
    }

    [Fact]
    public async Task An_acknowledged_alert_still_counts_as_open()
    {
        var busy = await InstanceAsync("busy");
        await MetricAsync(busy, DateTime.UtcNow.AddMinutes(-1), cpu: 99);
        await RuleAsync("THRESHOLD", "{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":90}", cooldownSec: 0);
        await EvaluateAsync();
        await Fixture.ExecuteAsync("UPDATE fleet.alerts SET status = 'ACKNOWLEDGED'");

        (await EvaluateAsync()).Fired.ShouldBeEmpty();
    }

    [Fact]
    public async Task The_database_refuses_a_second_open_alert_for_the_same_rule_and_instance()
    {
        var id = await InstanceAsync("once");
        var rule = await RuleAsync("LIFECYCLE", "{\"event\":\"unresponsive\"}");
        const string Insert = """
            INSERT INTO fleet.alerts (id, rule_id, instance_id, severity, title, message, dedupe_key)
            VALUES (platform.uuid_v7(), @Rule, @Instance, 'HIGH', 't', 'm', @Key)
            """;
        await Fixture.ExecuteAsync(Insert, new { Rule = rule, Instance = id, Key = $"{rule}:{id}" });

        await Should.ThrowAsync<Npgsql.PostgresException>(() => Fixture.ExecuteAsync(Insert, new { Rule = rule, Instance = id, Key = $"{rule}:{id}" }));
    }

    [Fact]
    public async Task Anomaly_compares_the_latest_value_with_the_window_baseline()
    {
        var jumpy = await InstanceAsync("jumpy");
        var calm = await InstanceAsync("calm");
        var now = DateTime.UtcNow;
        for (var index = 0; index < 6; index++)
        {
            await MetricAsync(jumpy, now.AddSeconds(-300 + (index * 50)), cpu: index == 5 ? 80 : 20);
            await MetricAsync(calm, now.AddSeconds(-300 + (index * 50)), cpu: index == 5 ? 22 : 20);
        }

        await RuleAsync("ANOMALY", "{\"metric\":\"cpu_percent\",\"deviation_percent\":100,\"window_sec\":600}");

        await EvaluateAsync();

        var alert = (await AlertsAsync()).ShouldHaveSingleItem();
        alert.InstanceId.ShouldBe(jumpy);
        alert.Message.ShouldBe("CPU usage is 80%, 300% off its 600 s baseline of 20% (limit: 100%)");
    }

    [Fact]
    public async Task Network_anomalies_use_rates_not_the_cumulative_counters()
    {
        var steady = await InstanceAsync("steady-net");
        var burst = await InstanceAsync("burst-net");
        var now = DateTime.UtcNow;
        for (var index = 0; index <= 6; index++)
        {
            var at = now.AddSeconds(-360 + (index * 60));
            await MetricAsync(steady, at, netRecv: 1_000_000 + (index * 60_000));
            await MetricAsync(burst, at, netRecv: index < 6 ? 1_000_000 + (index * 60_000) : 1_000_000 + (5 * 60_000) + 600_000);
        }

        await RuleAsync("ANOMALY", "{\"metric\":\"net_bytes_recv\",\"deviation_percent\":200,\"window_sec\":900}");

        await EvaluateAsync();

        (await AlertsAsync()).ShouldHaveSingleItem().InstanceId.ShouldBe(burst);
    }

    [Fact]
    public async Task Too_few_samples_for_an_anomaly_decide_nothing()
    {
        var sparse = await InstanceAsync("sparse");
        await MetricAsync(sparse, DateTime.UtcNow.AddMinutes(-2), cpu: 5);
        await MetricAsync(sparse, DateTime.UtcNow.AddMinutes(-1), cpu: 95);
        await RuleAsync("ANOMALY", "{\"metric\":\"cpu_percent\",\"deviation_percent\":10,\"window_sec\":600}");

        (await EvaluateAsync()).Fired.ShouldBeEmpty();
    }

    [Fact]
    public async Task Lifecycle_rules_watch_heartbeats_statuses_and_deployments()
    {
        var silent = await InstanceAsync("silent", lastHeartbeat: DateTime.UtcNow.AddMinutes(-10));
        var fresh = await InstanceAsync("fresh", lastHeartbeat: DateTime.UtcNow);
        var never = await InstanceAsync("never", createdAt: DateTime.UtcNow.AddMinutes(-10));
        var broken = await InstanceAsync("broken", status: "ERROR");
        var suspended = await InstanceAsync("paused", status: "SUSPENDED");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.deployments (id, name, instance_id, config_hash, yaml_content, provider, vm_size, memory_gb, storage_gb, status, error, started_at)
            VALUES (platform.uuid_v7(), 'd', @Fresh, 'h', 'name: d', 'fly', 'medium', 4, 20, 'FAILED', 'quota exceeded', now())
            """,
            new { Fresh = fresh });
        var heartbeat = await RuleAsync("LIFECYCLE", "{\"event\":\"heartbeat_lost\",\"timeout_sec\":120}");
        var unresponsive = await RuleAsync("LIFECYCLE", "{\"event\":\"unresponsive\"}");
        var changed = await RuleAsync("LIFECYCLE", "{\"event\":\"status_changed\",\"target_statuses\":[\"SUSPENDED\"]}");
        var deploy = await RuleAsync("LIFECYCLE", "{\"event\":\"deploy_failed\"}");

        await EvaluateAsync();

        var fired = await Fixture.QueryAsync<(Guid, Guid)>("SELECT rule_id, instance_id FROM fleet.alerts");
        fired.ShouldBe([(heartbeat, silent), (heartbeat, never), (unresponsive, broken), (changed, suspended), (deploy, fresh)], ignoreOrder: true);
        (await Fixture.ScalarAsync<string>("SELECT message FROM fleet.alerts WHERE rule_id = @Rule", new { Rule = deploy })).ShouldBe("quota exceeded");
    }

    [Fact]
    public async Task A_rule_for_one_instance_ignores_the_others_and_stale_alerts_of_uncovered_instances_resolve()
    {
        var watched = await InstanceAsync("watched", status: "ERROR");
        var ignored = await InstanceAsync("ignored", status: "ERROR");
        var rule = await RuleAsync("LIFECYCLE", "{\"event\":\"unresponsive\"}", instance: watched);

        await EvaluateAsync();
        (await AlertsAsync()).ShouldHaveSingleItem().InstanceId.ShouldBe(watched);

        await Fixture.ExecuteAsync("UPDATE fleet.instances SET status = 'DESTROYED' WHERE id = @Id", new { Id = watched });
        (await EvaluateAsync()).Resolved.Count.ShouldBe(1);
        ignored.ShouldNotBe(rule);
    }

    [Fact]
    public async Task Security_rules_fire_on_open_critical_vulnerabilities()
    {
        var exposed = await InstanceAsync("exposed");
        var patched = await InstanceAsync("patched");
        var rule = await RuleAsync("SECURITY", "{\"check\":\"cve_detected\",\"severity_threshold\":\"CRITICAL\"}");
        (await EvaluateAsync()).Fired.ShouldBeEmpty();

        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.vulnerabilities (id, instance_id, cve_id, osv_id, package_name, package_version, ecosystem, title, severity, status) VALUES
                (gen_random_uuid(), @Exposed, 'CVE-2024-0001', 'GHSA-1', 'lodash', '4.17.0', 'npm', 't', 'CRITICAL', 'OPEN'),
                (gen_random_uuid(), @Exposed, 'CVE-2024-0002', 'GHSA-2', 'lodash', '4.17.0', 'npm', 't', 'HIGH', 'OPEN'),
                (gen_random_uuid(), @Patched, 'CVE-2024-0003', 'GHSA-3', 'lodash', '4.17.0', 'npm', 't', 'CRITICAL', 'FIXED')
            """,
            new { Exposed = exposed, Patched = patched });

        await EvaluateAsync();

        var alert = (await AlertsAsync()).ShouldHaveSingleItem();
        alert.InstanceId.ShouldBe(exposed);
        alert.Message.ShouldContain("CVE-2024-0001");
        alert.Message.ShouldNotContain("CVE-2024-0002");

        await Fixture.ExecuteAsync("UPDATE fleet.vulnerabilities SET status = 'FIXED'");
        (await EvaluateAsync()).Resolved.Count.ShouldBe(1);
        rule.ShouldNotBe(Guid.Empty);
    }

    [Fact]
    public async Task Security_rules_fire_on_overdue_secret_rotations()
    {
        var overdue = await InstanceAsync("overdue");
        await RuleAsync("SECURITY", "{\"check\":\"secret_expired\"}");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.secret_rotations (id, instance_id, secret_name, secret_type, is_overdue, next_rotation) VALUES
                (gen_random_uuid(), @Id, 'DB_PASSWORD', 'password', false, now() - interval '1 day'),
                (gen_random_uuid(), @Id, 'FRESH', 'password', false, now() + interval '10 days')
            """,
            new { Id = overdue });

        await EvaluateAsync();

        (await AlertsAsync()).ShouldHaveSingleItem().Message.ShouldBe("Overdue secrets: DB_PASSWORD");
    }

    [Fact]
    public async Task Security_rules_count_denied_actions_on_the_instance()
    {
        var probed = await InstanceAsync("probed");
        await RuleAsync("SECURITY", "{\"check\":\"unauthorized_access\"}");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.audit_log (id, occurred_at, actor_type, action, resource_type, resource_id, result, correlation_id, metadata)
            VALUES (platform.uuid_v7(), now(), 'user', 'instance.suspend', 'instance', @Id, 'denied', platform.uuid_v7(), '{}')
            """,
            new { Id = probed.ToString() });

        await EvaluateAsync();

        (await AlertsAsync()).ShouldHaveSingleItem().Title.ShouldBe("Unauthorized access attempts on probed");
    }

    [Fact]
    public async Task Cost_rules_compare_the_periods_spend_with_the_budget()
    {
        var pricey = await InstanceAsync("pricey");
        var cheap = await InstanceAsync("cheap");
        await RuleAsync("COST", "{\"budget_usd\":100,\"period\":\"monthly\",\"threshold_percent\":80}");
        (await EvaluateAsync()).Fired.ShouldBeEmpty();
        var thisMonth = new DateTime(DateTime.UtcNow.Year, DateTime.UtcNow.Month, 1, 0, 0, 0, DateTimeKind.Utc);
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.cost_entries (id, instance_id, provider, period_start, period_end, total_usd) VALUES
                (platform.uuid_v7(), @Pricey, 'fly', @ThisMonth, @ThisMonth + interval '1 day', 50),
                (platform.uuid_v7(), @Pricey, 'fly', @ThisMonth + interval '1 day', @ThisMonth + interval '2 days', 35.5),
                (platform.uuid_v7(), @Pricey, 'fly', @LastMonth, @LastMonth + interval '1 day', 500),
                (platform.uuid_v7(), @Cheap, 'fly', @ThisMonth, @ThisMonth + interval '1 day', 10)
            """,
            new { Pricey = pricey, Cheap = cheap, ThisMonth = thisMonth, LastMonth = thisMonth.AddMonths(-1) });

        await EvaluateAsync();

        var alert = (await AlertsAsync()).ShouldHaveSingleItem();
        alert.InstanceId.ShouldBe(pricey);
        alert.Message.ShouldBe("Spent $85.50 of $100.00 this month (85.5%, alert at 80%)");
    }

    [Fact]
    public async Task Budget_periods_start_today_on_sunday_and_on_the_first()
    {
        var wednesday = new DateTime(2025, 1, 15, 13, 30, 0, DateTimeKind.Utc);

        AlertEvaluator.PeriodStart("daily", wednesday).ShouldBe(new DateTime(2025, 1, 15, 0, 0, 0, DateTimeKind.Utc));
        AlertEvaluator.PeriodStart("weekly", wednesday).ShouldBe(new DateTime(2025, 1, 12, 0, 0, 0, DateTimeKind.Utc));
        AlertEvaluator.PeriodStart("monthly", wednesday).ShouldBe(new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc));
    }

    [Fact]
    public async Task Failed_deliveries_are_retried_and_every_attempt_is_recorded()
    {
        await using var receiver = await HttpStandIn.StartAsync();
        receiver.Responses.Enqueue(500);
        receiver.Responses.Enqueue(502);
        var broken = await InstanceAsync("broken", status: "ERROR");
        var rule = await RuleAsync("LIFECYCLE", "{\"event\":\"unresponsive\"}");
        await ChannelAsync(rule, "WEBHOOK", $"{{\"url\":\"{receiver.Url("/retry")}\",\"method\":\"POST\"}}");

        await EvaluateAsync();

        receiver.Requests.Count.ShouldBe(3);
        var attempts = await Fixture.QueryAsync<(long Attempt, bool Success, long? Status)>(
            "SELECT attempt, success, status_code FROM fleet.alert_notifications ORDER BY attempt");
        attempts.ShouldBe([(1L, false, (long?)500), (2L, false, (long?)502), (3L, true, (long?)200)]);
        broken.ShouldNotBe(Guid.Empty);
    }

    [Fact]
    public async Task A_rejected_delivery_is_not_retried_and_an_unconfigured_mailer_is_recorded_as_failed()
    {
        await using var receiver = await HttpStandIn.StartAsync();
        receiver.Responses.Enqueue(404);
        await InstanceAsync("down", status: "ERROR");
        var rule = await RuleAsync("LIFECYCLE", "{\"event\":\"unresponsive\"}");
        await ChannelAsync(rule, "WEBHOOK", $"{{\"url\":\"{receiver.Url("/gone")}\",\"method\":\"POST\"}}");
        await ChannelAsync(rule, "EMAIL", "{\"recipients\":[\"ops@example.test\"]}");
        await ChannelAsync(rule, "IN_APP", "{}");

        await EvaluateAsync();

        receiver.Requests.Count.ShouldBe(1);
        var attempts = await Fixture.QueryAsync<(string Type, bool Success, string? Error)>(
            "SELECT channel_type, success, error FROM fleet.alert_notifications ORDER BY channel_type");
        attempts.ShouldBe([
            ("EMAIL", false, "E-mail is not configured: set Fleet:Smtp:Host (and Port, From)"),
            ("IN_APP", true, null),
            ("WEBHOOK", false, "The endpoint answered 404 Not Found"),
        ]);
    }

    [Fact]
    public async Task Disabled_rules_and_channels_are_left_out()
    {
        await InstanceAsync("down", status: "ERROR");
        var rule = await RuleAsync("LIFECYCLE", "{\"event\":\"unresponsive\"}");
        await Fixture.ExecuteAsync("UPDATE fleet.alert_rules SET enabled = false WHERE id = @Id", new { Id = rule });

        (await EvaluateAsync()).Rules.ShouldBe(0);
    }

    private async Task ChannelAsync(Guid rule, string type, string config)
    {
        var id = Guid.CreateVersion7();
        var cipher = Fixture.Services.GetRequiredService<EnvelopeCipher>();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.notification_channels (id, name, type, config_masked, config_sealed) VALUES (@Id, @Name, @Type, '{}', @Sealed);
            INSERT INTO fleet.alert_rule_channels (rule_id, channel_id) VALUES (@Rule, @Id);
            """,
            new { Id = id, Name = $"{type} channel", Type = type, Sealed = cipher.EncryptString(config, $"notification_channels:{id}"), Rule = rule });
    }
}
