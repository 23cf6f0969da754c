using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Alerts;

public sealed class AlertRuleTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] RuleFields =
        ["id", "name", "description", "type", "severity", "enabled", "instanceId", "conditions", "cooldownSec", "createdBy", "createdAt", "updatedAt", "channels", "alertCount", "openAlertCount"];

    private async Task<Guid> ChannelAsync(HttpClient client, string name = "hook") =>
        (await (await client.PostJsonAsync("/api/v1/alerts/channels", new { name, type = "IN_APP", config = new { } })).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("id").GetGuid();

    [Fact]
    public async Task An_operator_creates_a_rule_with_normalised_conditions_and_channels()
    {
        var client = await As(BaseRole.Operator);
        var instance = await SeedInstanceAsync("watched");
        var channel = await ChannelAsync(client);

        var response = await client.PostJsonAsync("/api/v1/alerts/rules", new
        {
            name = "disk nearly full",
            description = "warn early",
            type = "threshold",
            severity = "critical",
            instanceId = instance,
            conditions = new { metric = "disk_percent", @operator = "gte", threshold = "90", durationSec = 120 },
            cooldownSec = 600,
            channelIds = new[] { channel },
        });

        var rule = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        rule.PropertyNames().ShouldBe(RuleFields);
        rule.GetProperty("type").GetString().ShouldBe("THRESHOLD");
        rule.GetProperty("severity").GetString().ShouldBe("CRITICAL");
        rule.GetProperty("enabled").GetBoolean().ShouldBeTrue();
        rule.GetProperty("cooldownSec").GetInt64().ShouldBe(600);
        var conditions = rule.GetProperty("conditions");
        conditions.GetProperty("threshold").GetDouble().ShouldBe(90);
        conditions.GetProperty("duration_sec").GetInt32().ShouldBe(120);
        rule.GetProperty("channels")[0].PropertyNames().ShouldBe(["id", "name", "type"]);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/alerts/rules/{rule.GetProperty("id").GetGuid()}");
    }

    [Theory]
    [InlineData("ANOMALY", "{\"metric\":\"net_bytes_recv\",\"deviation_percent\":50,\"window_sec\":600}")]
    [InlineData("LIFECYCLE", "{\"event\":\"heartbeat_lost\",\"timeout_sec\":120}")]
    [InlineData("LIFECYCLE", "{\"event\":\"status_changed\",\"target_statuses\":[\"error\"]}")]
    [InlineData("SECURITY", "{\"check\":\"cve_detected\",\"severity_threshold\":\"HIGH\"}")]
    [InlineData("COST", "{\"budget_usd\":100,\"period\":\"monthly\",\"threshold_percent\":80}")]
    public async Task Every_type_takes_its_own_conditions(string type, string conditions)
    {
        var client = await As(BaseRole.Operator);
        var json = $"{{\"name\":\"r\",\"type\":\"{type}\",\"severity\":\"LOW\",\"conditions\":{conditions}}}";

        var response = await client.PostAsync("/api/v1/alerts/rules", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("type").GetString().ShouldBe(type);
    }

    [Theory]
    [InlineData("{\"type\":\"THRESHOLD\",\"severity\":\"LOW\",\"conditions\":{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":5}}", "name")]
    [InlineData("{\"name\":\"r\",\"type\":\"GUESS\",\"severity\":\"LOW\",\"conditions\":{}}", "type")]
    [InlineData("{\"name\":\"r\",\"type\":\"THRESHOLD\",\"severity\":\"URGENT\",\"conditions\":{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":5}}", "severity")]
    [InlineData("{\"name\":\"r\",\"type\":\"THRESHOLD\",\"severity\":\"LOW\"}", "conditions")]
    [InlineData("{\"name\":\"r\",\"type\":\"THRESHOLD\",\"severity\":\"LOW\",\"conditions\":{\"metric\":\"temperature\",\"operator\":\"gt\",\"threshold\":5}}", "conditions.metric")]
    [InlineData("{\"name\":\"r\",\"type\":\"THRESHOLD\",\"severity\":\"LOW\",\"conditions\":{\"metric\":\"cpu_percent\",\"operator\":\"eq\",\"threshold\":5}}", "conditions.operator")]
    [InlineData("{\"name\":\"r\",\"type\":\"THRESHOLD\",\"severity\":\"LOW\",\"conditions\":{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":150}}", "conditions.threshold")]
    [InlineData("{\"name\":\"r\",\"type\":\"THRESHOLD\",\"severity\":\"LOW\",\"conditions\":{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":\"many\"}}", "conditions.threshold")]
    [InlineData("{\"name\":\"r\",\"type\":\"ANOMALY\",\"severity\":\"LOW\",\"conditions\":{\"metric\":\"cpu_percent\",\"deviation_percent\":50,\"window_sec\":5}}", "conditions.window_sec")]
    [InlineData("{\"name\":\"r\",\"type\":\"LIFECYCLE\",\"severity\":\"LOW\",\"conditions\":{\"event\":\"exploded\"}}", "conditions.event")]
    [InlineData("{\"name\":\"r\",\"type\":\"SECURITY\",\"severity\":\"LOW\",\"conditions\":{\"check\":\"cve_detected\",\"severity_threshold\":\"LOW\"}}", "conditions.severity_threshold")]
    [InlineData("{\"name\":\"r\",\"type\":\"COST\",\"severity\":\"LOW\",\"conditions\":{\"budget_usd\":0,\"period\":\"monthly\",\"threshold_percent\":80}}", "conditions.budget_usd")]
    [InlineData("{\"name\":\"r\",\"type\":\"COST\",\"severity\":\"LOW\",\"conditions\":{\"budget_usd\":10,\"period\":\"yearly\",\"threshold_percent\":80}}", "conditions.period")]
    [InlineData("{\"name\":\"r\",\"type\":\"LIFECYCLE\",\"severity\":\"LOW\",\"conditions\":{\"event\":\"unresponsive\"},\"cooldownSec\":90000}", "cooldownSec")]
    public async Task Bad_rules_are_400_naming_the_field(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync("/api/v1/alerts/rules", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Unknown_instances_and_channels_are_400()
    {
        var client = await As(BaseRole.Operator);
        var conditions = new { @event = "unresponsive" };

        (await (await client.PostJsonAsync("/api/v1/alerts/rules", new { name = "r", type = "LIFECYCLE", severity = "LOW", conditions, instanceId = Guid.CreateVersion7() }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("instanceId", out _).ShouldBeTrue();
        (await (await client.PostJsonAsync("/api/v1/alerts/rules", new { name = "r", type = "LIFECYCLE", severity = "LOW", conditions, channelIds = new[] { Guid.CreateVersion7() } }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("channelIds", out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Rules_are_listed_with_filters_and_flat_and_nested_paging()
    {
        var client = await As(BaseRole.Operator);
        var instance = await SeedInstanceAsync("filtered");
        await client.PostJsonAsync("/api/v1/alerts/rules", new { name = "fleet-wide", type = "LIFECYCLE", severity = "LOW", conditions = new { @event = "unresponsive" } });
        await client.PostJsonAsync("/api/v1/alerts/rules", new { name = "scoped", type = "THRESHOLD", severity = "HIGH", instanceId = instance, conditions = new { metric = "cpu_percent", @operator = "gt", threshold = 90 } });
        await client.PostJsonAsync("/api/v1/alerts/rules", new { name = "off", type = "THRESHOLD", severity = "HIGH", enabled = false, conditions = new { metric = "cpu_percent", @operator = "gt", threshold = 99 } });
        var viewer = await As(BaseRole.Viewer);

        async Task<string?[]> Names(string query) =>
            [.. (await (await viewer.GetAsync($"/api/v1/alerts/rules?{query}")).ShouldBeJsonAsync()).GetProperty("rules").EnumerateArray().Select(rule => rule.GetProperty("name").GetString())];

        var all = await (await viewer.GetAsync("/api/v1/alerts/rules?pageSize=2")).ShouldBeJsonAsync();
        all.PropertyNames().ShouldBe(["rules", "data", "total", "page", "pageSize", "limit", "totalPages", "pagination"]);
        all.GetProperty("total").GetInt64().ShouldBe(3);
        all.GetProperty("totalPages").GetInt32().ShouldBe(2);
        (await Names("type=threshold")).ShouldBe(["off", "scoped"]);
        (await Names("enabled=false")).ShouldBe(["off"]);
        (await Names("severity=LOW")).ShouldBe(["fleet-wide"]);
        (await Names($"instanceId={instance}")).ShouldBe(["off", "scoped", "fleet-wide"]);
        await (await viewer.GetAsync("/api/v1/alerts/rules?type=GUESS")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_rule_is_read_updated_partially_disabled_enabled_and_deleted()
    {
        var client = await As(BaseRole.Operator);
        var instance = await SeedInstanceAsync("target");
        var channel = await ChannelAsync(client);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/rules", new
        {
            name = "cpu",
            type = "THRESHOLD",
            severity = "HIGH",
            instanceId = instance,
            conditions = new { metric = "cpu_percent", @operator = "gt", threshold = 90 },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var read = await (await (await As(BaseRole.Viewer)).GetAsync($"/api/v1/alerts/rules/{id}")).ShouldBeJsonAsync();
        read.PropertyNames().ShouldBe(RuleFields);

        var updated = await (await client.PutAsync($"/api/v1/alerts/rules/{id}", new StringContent(
            $"{{\"severity\":\"MEDIUM\",\"instanceId\":null,\"channelIds\":[\"{channel}\"],\"conditions\":{{\"metric\":\"cpu_percent\",\"operator\":\"gt\",\"threshold\":70}}}}",
            Encoding.UTF8,
            "application/json"))).ShouldBeJsonAsync();
        updated.GetProperty("name").GetString().ShouldBe("cpu");
        updated.GetProperty("severity").GetString().ShouldBe("MEDIUM");
        updated.GetProperty("instanceId").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
        updated.GetProperty("conditions").GetProperty("threshold").GetDouble().ShouldBe(70);
        updated.GetProperty("channels").GetArrayLength().ShouldBe(1);

        var disabled = await (await client.PostAsync($"/api/v1/alerts/rules/{id}/disable", null)).ShouldBeJsonAsync();
        disabled.PropertyNames().ShouldBe(["id", "name", "enabled", "resolvedAlerts"]);
        disabled.GetProperty("enabled").GetBoolean().ShouldBeFalse();
        (await (await client.PostAsync($"/api/v1/alerts/rules/{id}/enable", null)).ShouldBeJsonAsync()).GetProperty("enabled").GetBoolean().ShouldBeTrue();

        var deleted = await (await client.DeleteAsync($"/api/v1/alerts/rules/{id}")).ShouldBeJsonAsync();
        deleted.PropertyNames().ShouldBe(["message", "id", "name"]);
        deleted.GetProperty("message").GetString().ShouldBe("Rule deleted");
        await (await client.GetAsync($"/api/v1/alerts/rules/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Updates_check_conditions_against_the_rules_type()
    {
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/rules", new { name = "life", type = "LIFECYCLE", severity = "LOW", conditions = new { @event = "unresponsive" } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        (await (await client.PutAsJsonAsync($"/api/v1/alerts/rules/{id}", new { conditions = new { metric = "cpu_percent", @operator = "gt", threshold = 50 } }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("conditions.event", out _).ShouldBeTrue();
        (await (await client.PutAsJsonAsync($"/api/v1/alerts/rules/{id}", new { type = "THRESHOLD" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("conditions", out _).ShouldBeTrue();
        var retyped = await (await client.PutAsJsonAsync($"/api/v1/alerts/rules/{id}", new { type = "THRESHOLD", conditions = new { metric = "load_avg_1", @operator = "gt", threshold = 4 } }))
            .ShouldBeJsonAsync();
        retyped.GetProperty("type").GetString().ShouldBe("THRESHOLD");
        await (await client.PutAsJsonAsync($"/api/v1/alerts/rules/{id}", new { instanceId = "not-an-id" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Theory]
    [InlineData("GET", "")]
    [InlineData("PUT", "")]
    [InlineData("DELETE", "")]
    [InlineData("POST", "/enable")]
    [InlineData("POST", "/disable")]
    public async Task Unknown_rules_are_404(string method, string suffix)
    {
        var client = await As(BaseRole.Operator);
        using var request = new HttpRequestMessage(new HttpMethod(method), $"/api/v1/alerts/rules/{Guid.CreateVersion7()}{suffix}");
        if (method == "PUT")
        {
            request.Content = new StringContent("{\"name\":\"x\"}", Encoding.UTF8, "application/json");
        }

        await (await client.SendAsync(request)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
