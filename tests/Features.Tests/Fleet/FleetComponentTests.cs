using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Features.Fleet.Agents;
using Capstan.Features.Fleet.Alerts;
using Capstan.Features.Fleet.Deployments;
using Capstan.Features.Fleet.Maintenance;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Health;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Fleet;

/// <summary>The fleet's pure pieces: the agent protocol mapping, YAML configuration checks, channel configuration
/// masking and rule conditions, and the partition maintenance.</summary>
public sealed class FleetComponentTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private static JsonElement Json(string text) => JsonDocument.Parse(text).RootElement;

    [Fact]
    public void Both_envelopes_and_both_spellings_of_the_agent_protocol_are_read()
    {
        var mimir = AgentProtocol.Parse("""{"protocolVersion":"1.0","channel":"heartbeat","type":"heartbeat:ping","correlationId":"c1","data":{"cpuPercent":5}}""")!;
        var draupnir = AgentProtocol.Parse("""{"protocol_version":"1.0","type":"metrics:update","payload":{"cpu":{"usage_percent":12.5}}}""")!;

        mimir.Type.ShouldBe("heartbeat");
        mimir.CorrelationId.ShouldBe("c1");
        mimir.Payload.GetProperty("cpuPercent").GetInt32().ShouldBe(5);
        draupnir.Type.ShouldBe("metrics");
        AgentProtocol.Parse("[1,2]").ShouldBeNull();
        AgentProtocol.Parse("{\"payload\":{}}").ShouldBeNull();
    }

    [Fact]
    public void Nested_metrics_are_summed_over_disks_and_flattened()
    {
        var sample = AgentProtocol.Metrics(Json("""
            {"cpu":{"usage_percent":40,"load_avg_1":1.5,"core_count":8},
             "memory":{"used_bytes":100,"total_bytes":400,"swap_used_bytes":5},
             "disk":[{"mount_point":"/","used_bytes":10,"total_bytes":100,"read_bps":1.5},{"mount_point":"/data","used_bytes":20,"total_bytes":200,"read_bps":2.5}],
             "network":{"bytes_sent":7,"bytes_recv":9},
             "ts":1700000000000}
            """));

        sample.CpuPercent.ShouldBe(40);
        sample.CoreCount.ShouldBe(8);
        sample.MemTotal.ShouldBe(400);
        sample.SwapUsed.ShouldBe(5);
        sample.DiskUsed.ShouldBe(30);
        sample.DiskTotal.ShouldBe(300);
        sample.DiskReadBps.ShouldBe(4);
        sample.NetBytesRecv.ShouldBe(9);
        sample.Timestamp.ShouldBe(DateTimeOffset.FromUnixTimeMilliseconds(1_700_000_000_000));
    }

    [Fact]
    public void Log_lines_map_levels_sources_and_plain_strings()
    {
        var id = Guid.CreateVersion7();

        var line = AgentProtocol.LogLine(Json("""{"level":"warning","source":"build:npm","line":"slow","timestamp":"2025-01-01T00:00:00Z"}"""), id);
        var batch = AgentProtocol.LogBatch(Json("""{"lines":["raw text",{"level":"err","message":"x"}]}"""), id);

        line.Level.ShouldBe("warning");
        line.Source.ShouldBe("BUILD");
        line.Message.ShouldBe("slow");
        line.Timestamp.ShouldBe(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        batch.Select(entry => (entry.Message, entry.Source)).ShouldBe([("raw text", "AGENT"), ("x", "AGENT")]);
        AgentProtocol.LogLine(Json("""{"source":"kernel","message":"m"}"""), id).Source.ShouldBe("SYSTEM");
        AgentProtocol.EventType(Json("""{"type":"extension-install"}""")).ShouldBe("EXTENSION_INSTALL");
        AgentProtocol.EventType(Json("""{"type":"something else"}""")).ShouldBe("DEPLOY");
    }

    [Fact]
    public void Heartbeats_accept_extension_names_or_states_and_processes()
    {
        var names = AgentProtocol.Heartbeat(Json("""{"extensions":["git","node"],"uptime_seconds":"42"}"""));
        var states = AgentProtocol.Heartbeat(Json("""{"extensions":[{"name":"git","status":"healthy","version":"2.4"}],"processes":[{"pid":1,"name":"init","rss":99}]}"""));

        names.Extensions.ShouldBe(["git", "node"]);
        names.UptimeSeconds.ShouldBe(42);
        states.ExtensionStates!.Single().Version.ShouldBe("2.4");
        states.Processes!.Single().MemoryBytes.ShouldBe(99);
    }

    [Theory]
    [InlineData("name: ok\nextensions: [a, b]\n")]
    [InlineData("name: ok\nextensions:\n  profile: minimal\n  additional:\n    - rust\n")]
    [InlineData("version: '3'\ndeployment:\n  provider: kubernetes\nsecrets:\n  - name: GITHUB_TOKEN\n    source: env\nenv:\n  A: b\n")]
    public void Well_formed_configurations_pass(string yaml)
    {
        Should.NotThrow(() => DeploymentConfig.Check(yaml, "yaml_config"));
    }

    [Theory]
    [InlineData("name: Not_A_Slug\n", 1, "name must be lower-case")]
    [InlineData("name: ok\nsecrets:\n  - source: env\n", 3, "each secret needs a name")]
    [InlineData("name: ok\nsecrets:\n  - name: 9LIVES\n", 3, "a secret name must be")]
    [InlineData("name: ok\nenv:\n  A:\n    nested: true\n", 4, "env.A must be a single value")]
    [InlineData("name: ok\nenv:\n  DRAUPNIR_TOKEN: x\n", 3, "'DRAUPNIR_TOKEN' is reserved")]
    [InlineData("a: 1\n---\nb: 2\n", 3, "single YAML document")]
    public void Problems_name_their_line(string yaml, int line, string message)
    {
        var problem = Should.Throw<BadRequestException>(() => DeploymentConfig.Check(yaml, "yaml_config"));

        problem.Message.ShouldStartWith($"Invalid YAML at line {line},");
        problem.Message.ShouldContain(message);
        problem.Details!.Keys.ShouldBe(["yaml_config"]);
    }

    [Fact]
    public void Declared_extensions_and_secrets_are_summarised()
    {
        var summary = DeploymentConfig.Check("name: box\ndeployment:\n  provider: FLY\nextensions:\n  active: [git]\n  additional: [rust, git]\nsecrets:\n  - name: TOKEN\n", "yaml_config");

        summary.Name.ShouldBe("box");
        summary.Provider.ShouldBe("fly");
        summary.Extensions.ShouldBe(["git", "rust"]);
        summary.SecretNames.ShouldBe(["TOKEN"]);
    }

    [Fact]
    public void Channel_configurations_mask_secrets_and_keep_them_through_masked_updates()
    {
        var (config, errors) = ChannelConfigs.Parse("WEBHOOK", Json("""{"url":"https://h.test/x","secret":"abc","headers":{"X-Api-Key":"k","Accept":"text/plain"}}"""));
        errors.ShouldBeEmpty();

        var masked = ChannelConfigs.Masked(config!);
        masked["secret"]!.GetValue<string>().ShouldBe("***");
        masked["headers"]!["X-Api-Key"]!.GetValue<string>().ShouldBe("***");
        masked["headers"]!["Accept"]!.GetValue<string>().ShouldBe("text/plain");

        var merged = ChannelConfigs.KeepMaskedValues(JsonNode.Parse(masked.ToJsonString())!.AsObject(), config!);
        merged["secret"]!.GetValue<string>().ShouldBe("abc");
        merged["headers"]!["X-Api-Key"]!.GetValue<string>().ShouldBe("k");
        var slack = ChannelConfigs.Parse("SLACK", Json("""{"webhook_url":"https://hooks.slack.test/services/T/B/secret"}""")).Config!;
        ChannelConfigs.KeepMaskedValues(ChannelConfigs.Masked(slack), slack)["webhook_url"]!.GetValue<string>().ShouldBe("https://hooks.slack.test/services/T/B/secret");
    }

    [Fact]
    public void Conditions_are_normalised_to_snake_case()
    {
        var (condition, errors) = AlertConditions.Parse("ANOMALY", Json("""{"metric":"mem_percent","deviationPercent":"25","windowSec":120}"""));

        errors.ShouldBeEmpty();
        condition!.ToJson().ToJsonString().ShouldBe("""{"metric":"mem_percent","deviation_percent":25,"window_sec":120}""");
        AlertConditions.Parse("THRESHOLD", Json("[]")).Errors.Single().Key.ShouldBe("conditions");
        AlertConditions.Parse("LIFECYCLE", Json("""{"event":"status_changed","target_statuses":["RUNNING","BOGUS"]}""")).Errors.Single().Key
            .ShouldBe("conditions.target_statuses");
    }

    [Fact]
    public async Task Partition_maintenance_keeps_the_retention_window_and_days_ahead()
    {
        await Fixture.ExecuteAsync("SELECT fleet.ensure_daily_partitions('logs', current_date - 20, current_date - 15)");

        var result = await Fixture.WithScopeAsync(scope => FleetPartitions.MaintainAsync(scope, CancellationToken.None));

        result.Dropped.ShouldBeGreaterThanOrEqualTo(6);
        var days = await Fixture.QueryAsync<string>(
            "SELECT right(c.relname, 8) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'fleet.logs'::regclass ORDER BY 1");
        days.First().ShouldBe(DateTime.UtcNow.Date.AddDays(-3).ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture));
        days.Last().ShouldBe(DateTime.UtcNow.Date.AddDays(3).ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture));
        (await Fixture.WithScopeAsync(scope => FleetPartitions.MaintainAsync(scope, CancellationToken.None))).ShouldBe(new FleetPartitions.Result(0, 0));
    }

    [Fact]
    public async Task Start_up_makes_the_current_days_before_ready_and_the_rest_of_the_retention_just_after()
    {
        static string Day(int offset) => DateTime.UtcNow.Date.AddDays(offset).ToString("yyyyMMdd", System.Globalization.CultureInfo.InvariantCulture);
        Task<List<string>> LogDaysAsync() => Fixture.QueryAsync<string>(
            "SELECT right(c.relname, 8) FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = 'fleet.logs'::regclass");
        await Fixture.ExecuteAsync($"DROP TABLE fleet.logs_p{Day(-3)}, fleet.logs_p{Day(3)}");
        var partitions = Fixture.Services.GetServices<IStartupTask>().OfType<FleetPartitions>().Single();

        await partitions.RunAsync(CancellationToken.None);
        var beforeReady = await LogDaysAsync();
        await partitions.AfterReadyAsync(CancellationToken.None);
        var afterReady = await LogDaysAsync();

        beforeReady.ShouldContain(Day(3), "the days live traffic writes to exist before ready");
        beforeReady.ShouldNotContain(Day(-3), "older days wait until after ready");
        afterReady.ShouldContain(Day(-3));
    }
}
