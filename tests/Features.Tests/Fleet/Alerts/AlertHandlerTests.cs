using Capstan.Features.Fleet.Alerts;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Alerts;

/// <summary>Fired alerts through the pipeline: acknowledging and resolving one or many, reading one with its
/// deliveries, listing with filters and the summary counts.</summary>
public sealed class AlertHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private const string Cpu = """{"metric": "cpu_percent", "operator": "gt", "threshold": 80}""";

    private Task<string?> StatusAsync(Guid alert) => Fixture.ScalarAsync<string>("SELECT status FROM fleet.alerts WHERE id = @Id", new { Id = alert });

    [Fact]
    public async Task An_operator_acknowledges_an_active_alert_once()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var later = await Fixture.CreateUserAsync(BaseRole.Operator);
        var instance = await InstanceAsync("web-1");
        var rule = await RuleAsync("THRESHOLD", Cpu, instance);
        var alert = await Fixture.AlertAsync(rule, instance, severity: "CRITICAL");

        var view = await Fixture.SendAsAsync(op, new AcknowledgeAlert.Command(alert));

        (view.Id, view.Status, view.Severity, view.InstanceName, view.AcknowledgedBy, view.Title, view.Message)
            .ShouldBe((alert, "ACKNOWLEDGED", "CRITICAL", "web-1", op.Id.ToString(), "cpu high", "message of cpu high"));
        view.AcknowledgedAt.ShouldNotBeNull();
        view.Rule.ShouldBe(new AlertRuleRef(rule, "threshold rule", "THRESHOLD", "HIGH"));
        view.Metadata.GetProperty("value").GetDouble().ShouldBe(93.5);
        (await Fixture.AuditAsync(alert.ToString())).Select(row => (row.Action, row.ActorId)).ShouldBe([("alert.acknowledge", (Guid?)op.Id)]);

        // Acknowledging again changes nothing: the first acknowledger stays, no second audit row about the alert.
        var again = await Fixture.SendAsAsync(later, new AcknowledgeAlert.Command(alert));
        (again.Status, again.AcknowledgedBy).ShouldBe(("ACKNOWLEDGED", op.Id.ToString()));
        (await Fixture.ScalarAsync<string>("SELECT acknowledged_by FROM fleet.alerts WHERE id = @Id", new { Id = alert })).ShouldBe(op.Id.ToString());
        (await Fixture.AuditAsync(alert.ToString())).Count.ShouldBe(1);
    }

    [Fact]
    public async Task A_resolved_or_silenced_alert_cannot_be_acknowledged_and_an_unknown_one_is_not_found()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await RuleAsync("THRESHOLD", Cpu);
        var resolved = await Fixture.AlertAsync(rule, status: "RESOLVED");
        var silenced = await Fixture.AlertAsync(rule, status: "SILENCED");

        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(op, new AcknowledgeAlert.Command(resolved)));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(op, new AcknowledgeAlert.Command(silenced)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new AcknowledgeAlert.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new AcknowledgeAlert.Command(Guid.Empty)));

        (await StatusAsync(resolved)).ShouldBe("RESOLVED");
        (await StatusAsync(silenced)).ShouldBe("SILENCED");
    }

    [Fact]
    public async Task Bulk_acknowledge_changes_only_active_alerts_and_reports_them()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await RuleAsync("THRESHOLD", Cpu);
        var first = await Fixture.AlertAsync(rule);
        var second = await Fixture.AlertAsync(rule);
        var acknowledged = await Fixture.AlertAsync(rule, status: "ACKNOWLEDGED");
        var resolved = await Fixture.AlertAsync(rule, status: "RESOLVED");
        var untouched = await Fixture.AlertAsync(rule);

        var result = await Fixture.SendAsAsync(op, new BulkAcknowledgeAlerts.Command([first, first, second, acknowledged, resolved, Guid.CreateVersion7()]));

        result.Acknowledged.ShouldBe(2);
        result.Ids.ShouldBe([first, second], ignoreOrder: true);
        var stored = await Fixture.QueryAsync<(Guid, string, string?)>("SELECT id, status, acknowledged_by FROM fleet.alerts");
        stored.ShouldBe([(first, "ACKNOWLEDGED", op.Id.ToString()), (second, "ACKNOWLEDGED", op.Id.ToString()), (acknowledged, "ACKNOWLEDGED", null), (resolved, "RESOLVED", null), (untouched, "ACTIVE", null)], ignoreOrder: true);
        var audit = (await Fixture.AuditAsync(null, "alert.bulk_acknowledge")).ShouldHaveSingleItem();
        audit.ActorId.ShouldBe(op.Id);
        audit.Metadata.ShouldContain("\"requested\": 6");
    }

    [Fact]
    public async Task Bulk_resolve_closes_every_unresolved_alert_given()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await RuleAsync("THRESHOLD", Cpu);
        var active = await Fixture.AlertAsync(rule);
        var acknowledged = await Fixture.AlertAsync(rule, status: "ACKNOWLEDGED");
        var silenced = await Fixture.AlertAsync(rule, status: "SILENCED");
        var resolved = await Fixture.AlertAsync(rule, status: "RESOLVED");
        var untouched = await Fixture.AlertAsync(rule);

        var result = await Fixture.SendAsAsync(op, new BulkResolveAlerts.Command([active, acknowledged, silenced, resolved]));

        result.Resolved.ShouldBe(3);
        result.Ids.ShouldBe([active, acknowledged, silenced], ignoreOrder: true);
        var stored = await Fixture.QueryAsync<(Guid, string, string?)>("SELECT id, status, resolved_by FROM fleet.alerts");
        stored.ShouldBe([(active, "RESOLVED", op.Id.ToString()), (acknowledged, "RESOLVED", op.Id.ToString()), (silenced, "RESOLVED", op.Id.ToString()), (resolved, "RESOLVED", null), (untouched, "ACTIVE", null)], ignoreOrder: true);
        (await Fixture.AuditAsync(null, "alert.bulk_resolve")).ShouldHaveSingleItem().Metadata.ShouldContain("\"requested\": 4");
    }

    [Fact]
    public async Task Bulk_requests_need_one_to_a_hundred_alert_ids()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await RuleAsync("THRESHOLD", Cpu);
        var alert = await Fixture.AlertAsync(rule);
        Guid[]?[] invalid = [null, [], [.. Enumerable.Range(0, 101).Select(_ => Guid.CreateVersion7())], [alert, Guid.Empty]];

        foreach (var ids in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new BulkAcknowledgeAlerts.Command(ids)));
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new BulkResolveAlerts.Command(ids)));
        }

        (await StatusAsync(alert)).ShouldBe("ACTIVE");
    }

    [Fact]
    public async Task A_viewer_reads_an_alert_with_its_latest_twenty_deliveries()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var channel = await Fixture.SendAsAsync(op, new CreateChannel.Command("ops hook", "IN_APP", AlertArrange.Json("{}"), null));
        var rule = await RuleAsync("THRESHOLD", Cpu);
        var alert = await Fixture.AlertAsync(rule);
        var start = DateTime.UtcNow.AddHours(-1);
        for (var i = 0; i < 20; i++)
        {
            await Fixture.NotificationAsync(alert, channel.Id, 1, true, start.AddMinutes(i));
        }

        var newest = await Fixture.NotificationAsync(alert, null, 2, false, start.AddMinutes(30), "boom");
        var other = await Fixture.AlertAsync(rule);
        await Fixture.NotificationAsync(other, channel.Id, 1, true, start.AddMinutes(40));

        var detail = await Fixture.SendAsAsync(viewer, new GetAlert.Query(alert));

        (detail.Id, detail.RuleId, detail.Status, detail.NotificationCount).ShouldBe((alert, rule, "ACTIVE", 21L));
        detail.Notifications.Count.ShouldBe(20);
        detail.Notifications[0].ShouldBe(new GetAlert.NotificationView(newest, detail.Notifications[0].SentAt, 2, false, 500, "boom", 42, new ChannelRef(Guid.Empty, "ops hook", "WEBHOOK")));
        detail.Notifications[1].Channel.Id.ShouldBe(channel.Id);
        detail.Notifications.Select(notification => notification.SentAt).ShouldBeInOrder(SortDirection.Descending);
        // The oldest delivery is the one past the limit.
        detail.Notifications[^1].SentAt.ShouldBe(start.AddMinutes(1), TimeSpan.FromMilliseconds(1));
    }

    [Fact]
    public async Task Reading_an_unknown_alert_is_not_found_and_an_empty_id_is_invalid()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetAlert.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetAlert.Query(Guid.Empty)));
    }

    [Fact]
    public async Task Alerts_are_listed_newest_first_by_rule_instance_status_severity_and_time()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var web = await InstanceAsync("web");
        var db = await InstanceAsync("db");
        var cpu = await RuleAsync("THRESHOLD", Cpu);
        var lifecycle = await RuleAsync("LIFECYCLE", """{"event": "heartbeat_lost"}""");
        var now = DateTime.UtcNow;
        var a1 = await Fixture.AlertAsync(cpu, web, "ACTIVE", "HIGH", now.AddHours(-5));
        var a2 = await Fixture.AlertAsync(cpu, db, "ACKNOWLEDGED", "LOW", now.AddHours(-4));
        var a3 = await Fixture.AlertAsync(lifecycle, web, "RESOLVED", "HIGH", now.AddHours(-3));
        var a4 = await Fixture.AlertAsync(lifecycle, db, "ACTIVE", "CRITICAL", now.AddHours(-2));

        async Task<List<Guid>> IdsAsync(Guid? rule = null, Guid? instance = null, string? status = null, string? severity = null, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
            [.. (await Fixture.SendAsAsync(viewer, new ListAlerts.Query(rule, instance, status, severity, from, to, new PageRequest(0, 20)))).Alerts.Select(alert => alert.Id)];

        (await IdsAsync()).ShouldBe([a4, a3, a2, a1]);
        (await IdsAsync(rule: cpu)).ShouldBe([a2, a1]);
        (await IdsAsync(instance: web)).ShouldBe([a3, a1]);
        (await IdsAsync(status: "active, acknowledged")).ShouldBe([a4, a2, a1]);
        (await IdsAsync(severity: "HIGH,CRITICAL")).ShouldBe([a4, a3, a1]);
        (await IdsAsync(from: now.AddHours(-4.5), to: now.AddHours(-2.5))).ShouldBe([a3, a2]);

        var page = await Fixture.SendAsAsync(viewer, new ListAlerts.Query(null, null, null, null, null, null, new PageRequest(2, 2)));
        page.Alerts.Select(alert => alert.Id).ShouldBe([a2, a1]);
        (page.Total, page.Page, page.TotalPages).ShouldBe((4L, 2, 2));
        page.Alerts[0].Rule!.Name.ShouldBe("threshold rule");
    }

    [Fact]
    public async Task Listing_alerts_by_an_unknown_status_or_severity_or_a_backwards_range_is_invalid()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var page = new PageRequest(0, 20);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListAlerts.Query(null, null, "ACTIVE,OPEN", null, null, null, page)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListAlerts.Query(null, null, null, "URGENT", null, null, page)));
        await Should.ThrowAsync<ValidationException>(() =>
            Fixture.SendAsAsync(viewer, new ListAlerts.Query(null, null, null, null, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow.AddHours(-1), page)));
    }

    [Fact]
    public async Task The_summary_counts_active_alerts_by_severity_and_all_alerts_by_status()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var rule = await RuleAsync("THRESHOLD", Cpu);
        await Fixture.AlertAsync(rule, status: "ACTIVE", severity: "CRITICAL");
        await Fixture.AlertAsync(rule, status: "ACTIVE", severity: "CRITICAL");
        await Fixture.AlertAsync(rule, status: "ACTIVE", severity: "LOW");
        await Fixture.AlertAsync(rule, status: "ACKNOWLEDGED", severity: "CRITICAL");
        await Fixture.AlertAsync(rule, status: "RESOLVED", severity: "HIGH");
        await Fixture.AlertAsync(rule, status: "SILENCED", severity: "INFO");

        var summary = await Fixture.SendAsAsync(viewer, new GetAlertSummary.Query());

        string.Join(", ", summary.BySeverity.Select(count => $"{count.Key}={count.Value}")).ShouldBe("CRITICAL=2, HIGH=0, MEDIUM=0, LOW=1, INFO=0");
        string.Join(", ", summary.ByStatus.Select(count => $"{count.Key}={count.Value}")).ShouldBe("ACTIVE=3, ACKNOWLEDGED=1, RESOLVED=1, SILENCED=1");
        (summary.Total, summary.Open).ShouldBe((6L, 4L));
    }
}
