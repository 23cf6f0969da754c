using Capstan.Features.Fleet.Alerts;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using static Capstan.Features.Tests.Fleet.Alerts.AlertArrange;

namespace Capstan.Features.Tests.Fleet.Alerts;

/// <summary>Alert rules through the pipeline: create, update, read, list, enable and delete, with their checks,
/// stored rows and audit.</summary>
public sealed class AlertRuleHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private const string Cpu = """{"metric": "cpu_percent", "operator": "gt", "threshold": 80}""";

    private Task<long> RuleCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alert_rules");

    private Task<ChannelView> ChannelAsync(TestUser user, string name) =>
        Fixture.SendAsAsync(user, new CreateChannel.Command(name, "IN_APP", Json("{}"), null));

    [Fact]
    public async Task An_operator_creates_a_rule_with_normalised_fields_channels_and_an_audit_row()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var instance = await InstanceAsync("watched");
        var channel = await ChannelAsync(op, "pager");

        var rule = await Fixture.SendAsAsync(op, new CreateAlertRule.Command(
            "  disk nearly full ", "warn early", "threshold", "critical", instance,
            Json("""{"metric": "disk_percent", "operator": "gte", "threshold": "90", "durationSec": 120}"""), 600, [channel.Id, channel.Id], null));

        (rule.Name, rule.Description, rule.Type, rule.Severity, rule.Enabled, rule.InstanceId, rule.CooldownSec, rule.CreatedBy)
            .ShouldBe(("disk nearly full", "warn early", "THRESHOLD", "CRITICAL", true, instance, 600L, op.Id));
        rule.Conditions.GetProperty("threshold").GetDouble().ShouldBe(90);
        rule.Conditions.GetProperty("duration_sec").GetInt32().ShouldBe(120);
        rule.Channels.ShouldBe([new ChannelRef(channel.Id, "pager", "IN_APP")]);
        (rule.AlertCount, rule.OpenAlertCount).ShouldBe((0L, 0L));

        var stored = await Fixture.QueryAsync<(string, string, long, Guid)>(
            "SELECT name, conditions->>'metric', cooldown_sec, created_by FROM fleet.alert_rules WHERE id = @Id", new { rule.Id });
        stored.ShouldBe([("disk nearly full", "disk_percent", 600L, op.Id)]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alert_rule_channels WHERE rule_id = @Id", new { rule.Id })).ShouldBe(1);
        var audit = await Fixture.AuditAsync(rule.Id.ToString());
        audit.Select(row => (row.Action, row.ActorId)).ShouldBe([("alert_rule.create", (Guid?)op.Id)]);
    }

    [Fact]
    public async Task A_rule_without_cooldown_or_enabled_gets_the_defaults_and_a_disabled_one_stays_disabled()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);

        var fleetWide = await Fixture.SendAsAsync(op, new CreateAlertRule.Command("cpu", null, "THRESHOLD", "LOW", null, Json(Cpu), null, null, null));
        var off = await Fixture.SendAsAsync(op, new CreateAlertRule.Command("cpu off", null, "THRESHOLD", "LOW", null, Json(Cpu), 0, null, false));

        (fleetWide.CooldownSec, fleetWide.Enabled, fleetWide.InstanceId, fleetWide.Channels.Count).ShouldBe((300L, true, (Guid?)null, 0));
        (off.CooldownSec, off.Enabled).ShouldBe((0L, false));
        (await Fixture.ScalarAsync<bool>("SELECT enabled FROM fleet.alert_rules WHERE id = @Id", new { off.Id })).ShouldBeFalse();
    }

    [Fact]
    public async Task Invalid_rules_are_refused_by_the_validator_and_nothing_is_stored()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        CreateAlertRule.Command[] invalid =
        [
            new("", null, "THRESHOLD", "LOW", null, Json(Cpu), null, null, null),
            new(new string('n', 129), null, "THRESHOLD", "LOW", null, Json(Cpu), null, null, null),
            new("r", new string('d', 513), "THRESHOLD", "LOW", null, Json(Cpu), null, null, null),
            new("r", null, "GUESS", "LOW", null, Json("{}"), null, null, null),
            new("r", null, "THRESHOLD", "URGENT", null, Json(Cpu), null, null, null),
            new("r", null, "THRESHOLD", "LOW", null, Json(Cpu), 86401, null, null),
            new("r", null, "THRESHOLD", "LOW", null, Json(Cpu), null, [.. Enumerable.Range(0, 21).Select(_ => Guid.CreateVersion7())], null),
            new("r", null, "THRESHOLD", "LOW", null, null, null, null, null),
            new("r", null, "THRESHOLD", "LOW", null, Json("""{"metric": "temperature", "operator": "gt", "threshold": 5}"""), null, null, null),
            new("r", null, "THRESHOLD", "LOW", null, Json("""{"metric": "cpu_percent", "operator": "gt", "threshold": 150}"""), null, null, null),
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, command));
        }

        (await RuleCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task An_unknown_or_destroyed_instance_or_an_unknown_channel_is_a_bad_request()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var destroyed = await InstanceAsync("gone", "DESTROYED");
        var channel = await ChannelAsync(op, "pager");

        var unknownInstance = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op,
            new CreateAlertRule.Command("r", null, "THRESHOLD", "LOW", Guid.CreateVersion7(), Json(Cpu), null, null, null)));
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op,
            new CreateAlertRule.Command("r", null, "THRESHOLD", "LOW", destroyed, Json(Cpu), null, null, null)));
        var unknownChannel = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op,
            new CreateAlertRule.Command("r", null, "THRESHOLD", "LOW", null, Json(Cpu), null, [channel.Id, Guid.CreateVersion7()], null)));

        unknownInstance.Details!.Keys.ShouldBe(["instanceId"]);
        unknownChannel.Details!.Keys.ShouldBe(["channelIds"]);
        (await RuleCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task An_update_changes_only_the_fields_given_and_replaces_the_channels()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var instance = await InstanceAsync("watched");
        var first = await ChannelAsync(op, "first");
        var second = await ChannelAsync(op, "second");
        var rule = await Fixture.SendAsAsync(op, new CreateAlertRule.Command("cpu", "keep me", "THRESHOLD", "HIGH", instance, Json(Cpu), 120, [first.Id], null));

        var updated = await Fixture.SendAsAsync(op, new UpdateAlertRule.Command(rule.Id, new UpdateAlertRule.Body
        {
            Name = " cpu hot ",
            Severity = "low",
            InstanceId = Json("null"),
            ChannelIds = [second.Id],
            Enabled = false,
        }));

        (updated.Name, updated.Description, updated.Type, updated.Severity, updated.InstanceId, updated.CooldownSec, updated.Enabled)
            .ShouldBe(("cpu hot", "keep me", "THRESHOLD", "LOW", (Guid?)null, 120L, false));
        updated.Conditions.GetProperty("threshold").GetDouble().ShouldBe(80);
        updated.Channels.ShouldBe([new ChannelRef(second.Id, "second", "IN_APP")]);
        var channels = await Fixture.QueryAsync<Guid>("SELECT channel_id FROM fleet.alert_rule_channels WHERE rule_id = @Id", new { rule.Id });
        channels.ShouldBe([second.Id]);
        (await Fixture.ScalarAsync<string>("SELECT severity FROM fleet.alert_rules WHERE id = @Id AND instance_id IS NULL", new { rule.Id })).ShouldBe("LOW");
        (await Fixture.AuditAsync(rule.Id.ToString())).Select(row => row.Action).ShouldBe(["alert_rule.create", "alert_rule.update"]);
    }

    [Fact]
    public async Task A_new_type_with_its_conditions_replaces_both()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await Fixture.SendAsAsync(op, new CreateAlertRule.Command("cpu", null, "THRESHOLD", "HIGH", null, Json(Cpu), null, null, null));

        var updated = await Fixture.SendAsAsync(op, new UpdateAlertRule.Command(rule.Id, new UpdateAlertRule.Body
        {
            Type = "lifecycle",
            Conditions = Json("""{"event": "unresponsive", "timeoutSec": 60}"""),
        }));

        (updated.Type, updated.Severity).ShouldBe(("LIFECYCLE", "HIGH"));
        updated.Conditions.GetProperty("event").GetString().ShouldBe("unresponsive");
        updated.Conditions.GetProperty("timeout_sec").GetInt32().ShouldBe(60);
        var stored = await Fixture.QueryAsync<(string, string)>("SELECT type, conditions->>'event' FROM fleet.alert_rules WHERE id = @Id", new { rule.Id });
        stored.ShouldBe([("LIFECYCLE", "unresponsive")]);
    }

    [Fact]
    public async Task Invalid_updates_are_refused_and_leave_the_rule_as_it_was()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await Fixture.SendAsAsync(op, new CreateAlertRule.Command("cpu", null, "THRESHOLD", "HIGH", null, Json(Cpu), null, null, null));
        UpdateAlertRule.Command[] invalid =
        [
            new(Guid.Empty, new UpdateAlertRule.Body { Name = "x" }),
            new(rule.Id, new UpdateAlertRule.Body { Name = "" }),
            new(rule.Id, new UpdateAlertRule.Body { Type = "SECURITY" }),
            new(rule.Id, new UpdateAlertRule.Body { Type = "GUESS", Conditions = Json("{}") }),
            new(rule.Id, new UpdateAlertRule.Body { Severity = "URGENT" }),
            new(rule.Id, new UpdateAlertRule.Body { InstanceId = Json("\"not-an-id\"") }),
            new(rule.Id, new UpdateAlertRule.Body { CooldownSec = -1 }),
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, command));
        }

        // Conditions that do not fit the rule's current type are the handler's 400.
        var mismatch = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op,
            new UpdateAlertRule.Command(rule.Id, new UpdateAlertRule.Body { Conditions = Json("""{"metric": "cpu_percent", "operator": "eq", "threshold": 5}""") })));
        mismatch.Details!.Keys.ShouldBe(["conditions.operator"]);
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op,
            new UpdateAlertRule.Command(rule.Id, new UpdateAlertRule.Body { Name = "renamed", ChannelIds = [Guid.CreateVersion7()] })));
        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(op,
            new UpdateAlertRule.Command(rule.Id, new UpdateAlertRule.Body { InstanceId = Json($"\"{Guid.CreateVersion7()}\"") })));

        var stored = await Fixture.QueryAsync<(string, string, long)>("SELECT name, severity, cooldown_sec FROM fleet.alert_rules WHERE id = @Id", new { rule.Id });
        stored.ShouldBe([("cpu", "HIGH", 300L)]);
    }

    [Fact]
    public async Task Updating_an_unknown_rule_is_not_found()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new UpdateAlertRule.Command(Guid.CreateVersion7(), new UpdateAlertRule.Body { Name = "x" })));
    }

    [Fact]
    public async Task A_viewer_reads_a_rule_with_its_alert_counts()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var rule = await RuleAsync("THRESHOLD", Cpu, severity: "MEDIUM");
        await Fixture.AlertAsync(rule, status: "ACTIVE");
        await Fixture.AlertAsync(rule, status: "ACKNOWLEDGED");
        await Fixture.AlertAsync(rule, status: "RESOLVED");
        var other = await RuleAsync("COST", """{"budget_usd": 100, "period": "monthly", "threshold_percent": 80}""");
        await Fixture.AlertAsync(other);

        var view = await Fixture.SendAsAsync(viewer, new GetAlertRule.Query(rule));

        (view.Id, view.Name, view.Type, view.Severity, view.CooldownSec).ShouldBe((rule, "threshold rule", "THRESHOLD", "MEDIUM", 300L));
        (view.AlertCount, view.OpenAlertCount).ShouldBe((3L, 2L));
        view.Conditions.GetProperty("metric").GetString().ShouldBe("cpu_percent");
    }

    [Fact]
    public async Task An_unknown_rule_is_not_found_and_an_empty_id_is_invalid()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetAlertRule.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetAlertRule.Query(Guid.Empty)));
    }

    [Fact]
    public async Task Rules_are_listed_newest_first_filtered_and_paged()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var watched = await InstanceAsync("watched");
        var other = await InstanceAsync("other");
        var oldest = await RuleAsync("THRESHOLD", Cpu, watched, severity: "HIGH");
        var fleetWide = await RuleAsync("THRESHOLD", Cpu, null, severity: "LOW");
        var elsewhere = await RuleAsync("THRESHOLD", Cpu, other, severity: "HIGH");
        var lifecycle = await RuleAsync("LIFECYCLE", """{"event": "heartbeat_lost"}""", watched, severity: "HIGH");
        var at = DateTime.UtcNow.AddHours(-4);
        foreach (var (rule, hours) in new[] { (oldest, 0), (fleetWide, 1), (elsewhere, 2), (lifecycle, 3) })
        {
            await Fixture.ExecuteAsync("UPDATE fleet.alert_rules SET created_at = @At WHERE id = @Id", new { Id = rule, At = at.AddHours(hours) });
        }

        await Fixture.ExecuteAsync("UPDATE fleet.alert_rules SET enabled = false WHERE id = @Id", new { Id = elsewhere });

        Task<ListAlertRules.Response> List(string? type = null, string? severity = null, bool? enabled = null, Guid? instance = null, int offset = 0, int size = 20) =>
            Fixture.SendAsAsync(viewer, new ListAlertRules.Query(type, severity, enabled, instance, new PageRequest(offset, size)));

        var all = await List();
        all.Rules.Select(rule => rule.Id).ShouldBe([lifecycle, elsewhere, fleetWide, oldest]);
        all.Total.ShouldBe(4);
        (await List(type: "threshold")).Rules.Select(rule => rule.Id).ShouldBe([elsewhere, fleetWide, oldest]);
        (await List(severity: "high")).Rules.Select(rule => rule.Id).ShouldBe([lifecycle, elsewhere, oldest]);
        (await List(enabled: false)).Rules.Select(rule => rule.Id).ShouldBe([elsewhere]);
        (await List(instance: watched)).Rules.Select(rule => rule.Id).ShouldBe([lifecycle, fleetWide, oldest]);

        var second = await List(offset: 2, size: 2);
        second.Rules.Select(rule => rule.Id).ShouldBe([fleetWide, oldest]);
        (second.Total, second.Page, second.PageSize, second.TotalPages, second.Pagination.HasMore).ShouldBe((4L, 2, 2, 2, false));
    }

    [Fact]
    public async Task Listing_by_an_unknown_type_or_severity_is_invalid()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListAlertRules.Query("GUESS", null, null, null, new PageRequest(0, 20))));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListAlertRules.Query(null, "URGENT", null, null, new PageRequest(0, 20))));
    }

    [Fact]
    public async Task Enabling_a_disabled_rule_stores_it_and_audits()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await RuleAsync("THRESHOLD", Cpu);
        await Fixture.ExecuteAsync("UPDATE fleet.alert_rules SET enabled = false WHERE id = @Id", new { Id = rule });

        var enabled = await Fixture.SendAsAsync(op, new EnableAlertRule.Command(rule));

        enabled.ShouldBe(new EnableAlertRule.Response(rule, "threshold rule", true));
        (await Fixture.ScalarAsync<bool>("SELECT enabled FROM fleet.alert_rules WHERE id = @Id", new { Id = rule })).ShouldBeTrue();
        (await Fixture.AuditAsync(rule.ToString())).Select(row => (row.Action, row.ActorId)).ShouldBe([("alert_rule.enable", (Guid?)op.Id)]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new EnableAlertRule.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new EnableAlertRule.Command(Guid.Empty)));
    }

    [Fact]
    public async Task Deleting_a_rule_removes_it_with_its_alerts_and_audits()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var rule = await RuleAsync("THRESHOLD", Cpu);
        var kept = await RuleAsync("THRESHOLD", Cpu);
        var alert = await Fixture.AlertAsync(rule);
        await Fixture.NotificationAsync(alert, null, 1, true, DateTime.UtcNow);
        await Fixture.AlertAsync(kept);

        var deleted = await Fixture.SendAsAsync(op, new DeleteAlertRule.Command(rule));

        deleted.ShouldBe(new DeleteAlertRule.Response("Rule deleted", rule, "threshold rule"));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.alert_rules")).ShouldBe([kept]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alerts WHERE rule_id = @Id", new { Id = rule })).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.alert_notifications")).ShouldBe(0);
        (await Fixture.AuditAsync(rule.ToString())).Select(row => row.Action).ShouldBe(["alert_rule.delete"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new DeleteAlertRule.Command(rule)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new DeleteAlertRule.Command(Guid.Empty)));
    }
}
