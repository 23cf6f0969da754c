using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Capstan.Features.Fleet.Alerts;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Fleet.Agents;

/// <summary>The whole loop with a simulated agent over the WebSocket: register, heartbeats, metrics, logs, a command
/// round trip, a THRESHOLD alert firing, its signed webhook, and its automatic resolution.</summary>
public sealed class AgentEndToEndTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task An_agent_reports_runs_a_command_and_a_threshold_alert_fires_notifies_and_resolves()
    {
        await using var webhook = await HttpStandIn.StartAsync();
        var agentUser = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var agentKey = await Fixture.CreateApiKeyAsync(agentUser);
        using var agentHttp = Fixture.CreateClient();
        agentHttp.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", agentKey);

        // 1. Register over REST, then hold the socket.
        var id = await RegisterAsync(agentHttp, "e2e-box", "fly", "iad");
        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, id.ToString(), agentKey);

        // 2. Heartbeats.
        var pong = await agent.HeartbeatAsync(new
        {
            cpuPercent = 12.5,
            memoryUsed = 1_000_000_000L,
            memoryTotal = 4_000_000_000L,
            diskUsed = 10_000_000_000L,
            diskTotal = 50_000_000_000L,
            uptime_seconds = 3600,
            processes = new[] { new { pid = 42, name = "node", cpu_percent = 7.5, memory_bytes = 200_000_000L, user = "dev" } },
        });
        pong.GetProperty("payload").GetProperty("ok").GetBoolean().ShouldBeTrue();
        pong.GetProperty("payload").GetProperty("status").GetString().ShouldBe("RUNNING");
        var viewer = await As(BaseRole.Viewer);
        var instance = await (await viewer.GetAsync($"/api/v1/instances/{id}")).ShouldBeJsonAsync();
        instance.GetProperty("online").GetBoolean().ShouldBeTrue();
        instance.GetProperty("lastHeartbeat").GetProperty("uptimeSeconds").GetInt64().ShouldBe(3600);

        // 3. Metrics (Draupnir's nested form): a hot CPU.
        await agent.SendAsync("metrics", new
        {
            cpu = new { usage_percent = 95.0, load_avg_1 = 3.5, core_count = 4 },
            memory = new { used_bytes = 3_000_000_000L, total_bytes = 4_000_000_000L },
            disk = new[] { new { mount_point = "/", used_bytes = 10_000_000_000L, total_bytes = 50_000_000_000L } },
            network = new { bytes_sent = 1000, bytes_recv = 2000 },
        });

        // 4. Logs, one line and a batch; a heartbeat after them proves they were processed (messages are handled in order).
        await agent.SendAsync("log:line", new { level = "warning", source = "app:web", message = "disk almost full" });
        await agent.SendAsync("log:batch", new { lines = new object[] { "plain line", new { level = "error", source = "extension:python", message = "boom" } } });
        await agent.HeartbeatAsync(new { cpuPercent = 95.0 });
        var logs = await (await viewer.GetAsync($"/api/v1/instances/{id}/logs")).ShouldBeJsonAsync();
        logs.GetProperty("logs").EnumerateArray().Select(log => (log.GetProperty("level").GetString(), log.GetProperty("source").GetString(), log.GetProperty("message").GetString()))
            .ShouldBe([("ERROR", "EXTENSION", "boom"), ("INFO", "AGENT", "plain line"), ("WARN", "APP", "disk almost full")], ignoreOrder: true);
        var latest = await (await viewer.GetAsync($"/api/v1/metrics/latest?instanceIds={id}")).ShouldBeJsonAsync();
        latest.GetProperty("metrics")[0].GetProperty("cpuPercent").GetDouble().ShouldBe(95.0);
        latest.GetProperty("metrics")[0].GetProperty("memPercent").GetDouble().ShouldBe(75.0);

        // 5. A command round trip through the socket.
        var developer = await As(BaseRole.Developer);
        var command = await (await developer.PostJsonAsync("/api/v1/commands", new { instanceId = id, command = "uname", args = new[] { "-a" }, env = new Dictionary<string, string> { ["LANG"] = "C" } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        command.GetProperty("status").GetString().ShouldBe("SUCCEEDED");
        command.GetProperty("exitCode").GetInt32().ShouldBe(0);
        command.GetProperty("stdout").GetString().ShouldBe("ran uname");
        command.GetProperty("durationMs").GetInt64().ShouldBe(12);
        agent.Dispatched.Single().GetProperty("env")[0].GetString().ShouldBe("LANG=C");

        // 6. A THRESHOLD rule with a signed webhook channel fires on the hot CPU.
        var operatorClient = await As(BaseRole.Operator);
        var channel = await (await operatorClient.PostJsonAsync("/api/v1/alerts/channels", new
        {
            name = "ops-hook",
            type = "WEBHOOK",
            config = new { url = webhook.Url("/hooks/alerts"), secret = "s3cret-signing-key" },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var rule = await (await operatorClient.PostJsonAsync("/api/v1/alerts/rules", new
        {
            name = "hot cpu",
            type = "THRESHOLD",
            severity = "HIGH",
            conditions = new { metric = "cpu_percent", @operator = "gt", threshold = 80 },
            channelIds = new[] { channel.GetProperty("id").GetGuid() },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var evaluation = Fixture.Services.GetRequiredService<AlertEvaluation>();
        (await evaluation.TryRunAsync(CancellationToken.None)).ShouldBeTrue();

        var alerts = await (await viewer.GetAsync($"/api/v1/alerts?ruleId={rule.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync();
        var alert = alerts.GetProperty("alerts").EnumerateArray().ShouldHaveSingleItem();
        alert.GetProperty("status").GetString().ShouldBe("ACTIVE");
        alert.GetProperty("instanceId").GetGuid().ShouldBe(id);
        alert.GetProperty("message").GetString().ShouldBe("CPU usage is 95% (threshold: gt 80%)");

        // 7. The webhook got the alert, signed with the channel's secret.
        var delivered = (await webhook.WaitForAsync(1)).Single();
        delivered.Path.ShouldBe("/hooks/alerts");
        var expected = "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("s3cret-signing-key"), delivered.Body));
        delivered.Headers["X-Sindri-Signature"].ShouldBe(expected);
        var body = JsonDocument.Parse(delivered.Body).RootElement;
        body.GetProperty("alertId").GetString().ShouldBe(alert.GetProperty("id").GetString());
        body.GetProperty("severity").GetString().ShouldBe("HIGH");
        body.GetProperty("instanceName").GetString().ShouldBe("e2e-box");
        var detail = await (await viewer.GetAsync($"/api/v1/alerts/{alert.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync();
        var attempt = detail.GetProperty("notifications").EnumerateArray().ShouldHaveSingleItem();
        attempt.GetProperty("success").GetBoolean().ShouldBeTrue();
        attempt.GetProperty("statusCode").GetInt32().ShouldBe(200);

        // 8. The CPU cools down: the next evaluation resolves the alert by itself, and notifies nobody.
        await agent.SendAsync("metrics", new { cpuPercent = 10.0, memUsed = 1_000, memTotal = 4_000 });
        await agent.HeartbeatAsync(new { cpuPercent = 10.0 });
        (await evaluation.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        var resolved = await (await viewer.GetAsync($"/api/v1/alerts/{alert.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync();
        resolved.GetProperty("status").GetString().ShouldBe("RESOLVED");
        resolved.GetProperty("resolvedBy").GetString().ShouldBe("system:auto-resolution");
        webhook.Requests.Count.ShouldBe(1);
    }
}
