using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Alerts;

public sealed class AlertTests(FleetFixture fixture) : FleetTest(fixture)
{
    private async Task<Guid> RuleAsync(string name = "rule")
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.alert_rules (id, name, type, severity, conditions) VALUES (@Id, @Name, 'LIFECYCLE', 'HIGH', '{\"event\":\"unresponsive\",\"timeout_sec\":120,\"target_statuses\":[\"ERROR\"]}')",
            new { Id = id, Name = name });
        return id;
    }

    private async Task<Guid> AlertAsync(Guid rule, Guid? instance, string status = "ACTIVE", string severity = "HIGH", DateTime? firedAt = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.alerts (id, rule_id, instance_id, status, severity, title, message, dedupe_key, fired_at)
            VALUES (@Id, @Rule, @Instance, @Status, @Severity, 'Title', 'Message', @Key, @FiredAt)
            """,
            new { Id = id, Rule = rule, Instance = instance, Status = status, Severity = severity, Key = $"{rule}:{instance}:{id}", FiredAt = firedAt ?? DateTime.UtcNow });
        return id;
    }

    [Fact]
    public async Task Alerts_are_listed_newest_first_with_filters_and_paging()
    {
        var rule = await RuleAsync();
        var instance = await SeedInstanceAsync("alerting");
        var old = await AlertAsync(rule, instance, "RESOLVED", "LOW", DateTime.UtcNow.AddHours(-2));
        var recent = await AlertAsync(rule, instance, "ACTIVE", "CRITICAL", DateTime.UtcNow.AddMinutes(-1));
        await AlertAsync(rule, null, "ACKNOWLEDGED", "HIGH", DateTime.UtcNow.AddMinutes(-30));
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/alerts?limit=2")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["alerts", "data", "total", "page", "pageSize", "limit", "totalPages", "pagination"]);
        body.GetProperty("total").GetInt64().ShouldBe(3);
        var first = body.GetProperty("alerts")[0];
        first.PropertyNames().ShouldBe([
            "id", "ruleId", "instanceId", "instanceName", "status", "severity", "title", "message", "metadata", "firedAt", "acknowledgedAt", "acknowledgedBy",
            "resolvedAt", "resolvedBy", "dedupeKey", "rule", "notificationCount",
        ]);
        first.GetProperty("id").GetGuid().ShouldBe(recent);
        first.GetProperty("instanceName").GetString().ShouldBe("alerting");
        first.GetProperty("rule").PropertyNames().ShouldBe(["id", "name", "type", "severity"]);

        async Task<Guid[]> Ids(string query) =>
            [.. (await (await client.GetAsync($"/api/v1/alerts?{query}")).ShouldBeJsonAsync()).GetProperty("alerts").EnumerateArray().Select(alert => alert.GetProperty("id").GetGuid())];

        (await Ids("status=RESOLVED")).ShouldBe([old]);
        (await Ids("severity=critical,low")).ShouldBe([recent, old]);
        (await Ids($"instanceId={instance}")).ShouldBe([recent, old]);
        (await Ids($"ruleId={Guid.CreateVersion7()}")).ShouldBeEmpty();
        var from = Uri.EscapeDataString(DateTime.UtcNow.AddMinutes(-45).ToString("O", System.Globalization.CultureInfo.InvariantCulture));
        (await Ids($"from={from}")).Length.ShouldBe(2);
        await (await client.GetAsync("/api/v1/alerts?status=OPEN")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.GetAsync("/api/v1/alerts?severity=URGENT")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task The_summary_counts_active_alerts_by_severity_and_all_by_status()
    {
        var rule = await RuleAsync();
        await AlertAsync(rule, null, "ACTIVE", "CRITICAL");
        await AlertAsync(rule, null, "ACTIVE", "LOW");
        await AlertAsync(rule, null, "ACKNOWLEDGED", "CRITICAL");
        await AlertAsync(rule, null, "RESOLVED", "CRITICAL");
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/alerts/summary")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["bySeverity", "byStatus", "total", "open"]);
        body.GetProperty("bySeverity").GetProperty("CRITICAL").GetInt64().ShouldBe(1);
        body.GetProperty("bySeverity").GetProperty("LOW").GetInt64().ShouldBe(1);
        body.GetProperty("bySeverity").GetProperty("INFO").GetInt64().ShouldBe(0);
        body.GetProperty("byStatus").GetProperty("RESOLVED").GetInt64().ShouldBe(1);
        body.GetProperty("byStatus").GetProperty("SILENCED").GetInt64().ShouldBe(0);
        body.GetProperty("total").GetInt64().ShouldBe(4);
        body.GetProperty("open").GetInt64().ShouldBe(3);
    }

    [Fact]
    public async Task Detail_includes_the_delivery_attempts()
    {
        var rule = await RuleAsync();
        var alert = await AlertAsync(rule, null);
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.alert_notifications (id, alert_id, channel_name, channel_type, attempt, success, status_code, error, duration_ms)
            VALUES (@A, @Alert, 'hook', 'WEBHOOK', 1, false, 502, 'bad gateway', 15), (@B, @Alert, 'hook', 'WEBHOOK', 2, true, 200, NULL, 9)
            """,
            new { A = Guid.CreateVersion7(), B = Guid.CreateVersion7(), Alert = alert });
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/alerts/{alert}")).ShouldBeJsonAsync();

        body.GetProperty("notificationCount").GetInt64().ShouldBe(2);
        var notifications = body.GetProperty("notifications").EnumerateArray().ToList();
        notifications.Count.ShouldBe(2);
        notifications[0].PropertyNames().ShouldBe(["id", "sentAt", "attempt", "success", "statusCode", "error", "durationMs", "channel"]);
        notifications.Select(notification => notification.GetProperty("attempt").GetInt64()).ShouldBe([2, 1]);
        (await (await client.GetAsync($"/api/v1/alerts/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString()
            .ShouldBe("Alert not found");
    }

    [Fact]
    public async Task Acknowledge_then_resolve_record_who_and_when()
    {
        var rule = await RuleAsync();
        var alert = await AlertAsync(rule, null);
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Operator);

        var acknowledged = await (await client.PostAsync($"/api/v1/alerts/{alert}/acknowledge", null)).ShouldBeJsonAsync();
        acknowledged.GetProperty("status").GetString().ShouldBe("ACKNOWLEDGED");
        acknowledged.GetProperty("acknowledgedBy").GetString().ShouldBe(user.Id.ToString());
        (await (await client.PostAsync($"/api/v1/alerts/{alert}/acknowledge", null)).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("ACKNOWLEDGED");

        var resolved = await (await client.PostAsync($"/api/v1/alerts/{alert}/resolve", null)).ShouldBeJsonAsync();
        resolved.GetProperty("status").GetString().ShouldBe("RESOLVED");
        resolved.GetProperty("resolvedBy").GetString().ShouldBe(user.Id.ToString());
        resolved.GetProperty("resolvedAt").GetDateTime().ShouldBeGreaterThan(DateTime.UtcNow.AddMinutes(-1));

        await (await client.PostAsync($"/api/v1/alerts/{alert}/resolve", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await client.PostAsync($"/api/v1/alerts/{alert}/acknowledge", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        (await Fixture.QueryAsync<string>("SELECT action FROM identity.audit_log WHERE resource_id = @Id ORDER BY occurred_at", new { Id = alert.ToString() }))
            .ShouldBe(["alert.acknowledge", "alert.resolve"]);
    }

    [Theory]
    [InlineData("acknowledge")]
    [InlineData("resolve")]
    public async Task Unknown_alerts_are_404(string action)
    {
        var client = await As(BaseRole.Operator);

        await (await client.PostAsync($"/api/v1/alerts/{Guid.CreateVersion7()}/{action}", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Bulk_forms_change_only_the_alerts_in_a_suitable_state()
    {
        var rule = await RuleAsync();
        var active = await AlertAsync(rule, null, "ACTIVE");
        var acknowledged = await AlertAsync(rule, null, "ACKNOWLEDGED");
        var resolved = await AlertAsync(rule, null, "RESOLVED");
        var client = await As(BaseRole.Operator);

        var ack = await (await client.PostJsonAsync("/api/v1/alerts/bulk-acknowledge", new { ids = new[] { active, acknowledged, resolved, Guid.CreateVersion7() } })).ShouldBeJsonAsync();
        ack.PropertyNames().ShouldBe(["acknowledged", "ids"]);
        ack.GetProperty("acknowledged").GetInt32().ShouldBe(1);
        ack.GetProperty("ids")[0].GetGuid().ShouldBe(active);

        var resolve = await (await client.PostJsonAsync("/api/v1/alerts/bulk-resolve", new { ids = new[] { active, acknowledged, resolved } })).ShouldBeJsonAsync();
        resolve.PropertyNames().ShouldBe(["resolved", "ids"]);
        resolve.GetProperty("resolved").GetInt32().ShouldBe(2);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alerts WHERE status = 'RESOLVED'")).ShouldBe(3);
    }

    [Theory]
    [InlineData("/api/v1/alerts/bulk-acknowledge")]
    [InlineData("/api/v1/alerts/bulk-resolve")]
    public async Task Bulk_forms_need_one_to_a_hundred_ids(string path)
    {
        var client = await As(BaseRole.Operator);

        await (await client.PostJsonAsync(path, new { ids = Array.Empty<Guid>() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.PostJsonAsync(path, new { })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.PostJsonAsync(path, new { ids = Enumerable.Range(0, 101).Select(_ => Guid.CreateVersion7()) })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Disabling_a_rule_resolves_its_open_alerts()
    {
        var rule = await RuleAsync();
        await AlertAsync(rule, null, "ACTIVE");
        await AlertAsync(rule, null, "ACKNOWLEDGED");
        var client = await As(BaseRole.Operator);

        var body = await (await client.PostAsync($"/api/v1/alerts/rules/{rule}/disable", null)).ShouldBeJsonAsync();

        body.GetProperty("resolvedAlerts").GetInt32().ShouldBe(2);
        (await Fixture.QueryAsync<string>("SELECT DISTINCT resolved_by FROM fleet.alerts")).ShouldBe(["system:rule-disabled"]);
    }
}
