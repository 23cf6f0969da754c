using System.Text;
using Capstan.Features.Fleet.Alerts;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Notifications;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;
using static Capstan.Features.Tests.Fleet.Alerts.AlertArrange;

namespace Capstan.Features.Tests.Fleet.Alerts;

/// <summary>Notification channels through the pipeline: created sealed and shown masked, read, listed, updated
/// (masked values keep the stored ones), tested and deleted.</summary>
public sealed class ChannelHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private const string Hook = """{"url": "https://hooks.example.test/ops", "headers": {"Authorization": "Bearer hdr-secret-1", "X-Team": "ops"}, "secret": "sign-secret-1"}""";

    private async Task<string> StoredConfigAsync(Guid channel)
    {
        var sealedConfig = (await Fixture.ScalarAsync<byte[]>("SELECT config_sealed FROM fleet.notification_channels WHERE id = @Id", new { Id = channel }))!;
        return Fixture.Services.GetRequiredService<EnvelopeCipher>().DecryptString(sealedConfig, $"notification_channels:{channel}");
    }

    private Task<long> ChannelCountAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.notification_channels");

    [Fact]
    public async Task An_operator_creates_a_webhook_channel_sealed_and_shown_masked()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);

        var channel = await Fixture.SendAsAsync(op, new CreateChannel.Command(" ops hook ", "webhook", Json(Hook), null));

        (channel.Name, channel.Type, channel.Enabled, channel.CreatedBy, channel.RuleCount).ShouldBe(("ops hook", "WEBHOOK", true, (Guid?)op.Id, 0L));
        channel.Config.GetProperty("url").GetString().ShouldBe("https://hooks.example.test/ops");
        channel.Config.GetProperty("method").GetString().ShouldBe("POST");
        channel.Config.GetProperty("secret").GetString().ShouldBe("***");
        channel.Config.GetProperty("headers").GetProperty("Authorization").GetString().ShouldBe("***");
        channel.Config.GetProperty("headers").GetProperty("X-Team").GetString().ShouldBe("ops");

        var sealedBytes = (await Fixture.ScalarAsync<byte[]>("SELECT config_sealed FROM fleet.notification_channels WHERE id = @Id", new { channel.Id }))!;
        Encoding.UTF8.GetString(sealedBytes).ShouldNotContain("sign-secret-1");
        (await Fixture.ScalarAsync<string>("SELECT config_masked::text FROM fleet.notification_channels WHERE id = @Id", new { channel.Id }))!.ShouldNotContain("secret-1");
        var stored = await StoredConfigAsync(channel.Id);
        stored.ShouldContain("sign-secret-1");
        stored.ShouldContain("Bearer hdr-secret-1");
        var audit = (await Fixture.AuditAsync(channel.Id.ToString())).ShouldHaveSingleItem();
        (audit.Action, audit.ActorId, audit.ResourceName).ShouldBe(("notification_channel.create", (Guid?)op.Id, " ops hook "));
    }

    [Fact]
    public async Task A_slack_channel_shows_its_url_without_the_token_and_may_start_disabled()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);

        var channel = await Fixture.SendAsAsync(op, new CreateChannel.Command(
            "slack", "SLACK", Json("""{"webhookUrl": "https://hooks.slack.test/services/T0/B0/tok-123", "iconEmoji": ":fire:"}"""), false));

        channel.Enabled.ShouldBeFalse();
        channel.Config.GetProperty("webhook_url").GetString().ShouldBe("https://hooks.slack.test/services/T0/B0/***");
        channel.Config.GetProperty("icon_emoji").GetString().ShouldBe(":fire:");
        (await StoredConfigAsync(channel.Id)).ShouldContain("tok-123");
    }

    [Fact]
    public async Task Invalid_channels_are_refused_by_the_validator_and_nothing_is_stored()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        CreateChannel.Command[] invalid =
        [
            new("", "IN_APP", Json("{}"), null),
            new(new string('n', 129), "IN_APP", Json("{}"), null),
            new("c", "PIGEON", Json("{}"), null),
            new("c", "WEBHOOK", null, null),
            new("c", "WEBHOOK", Json("[]"), null),
            new("c", "WEBHOOK", Json("""{"url": "ftp://files.example.test"}"""), null),
            new("c", "WEBHOOK", Json("""{"url": "https://h.example.test", "method": "GET"}"""), null),
            new("c", "EMAIL", Json("""{"recipients": []}"""), null),
            new("c", "EMAIL", Json("""{"recipients": ["not-an-address"]}"""), null),
            new("c", "IN_APP", Json("""{"user_ids": ["nope"]}"""), null),
        ];

        foreach (var command in invalid)
        {
            await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, command));
        }

        (await ChannelCountAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_viewer_reads_a_channel_with_its_rule_count()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var channel = await Fixture.SendAsAsync(op, new CreateChannel.Command("mail", "EMAIL", Json("""{"recipients": ["ops@example.test"], "subjectPrefix": "[cap]"}"""), null));
        var rule = await RuleAsync("THRESHOLD", """{"metric": "cpu_percent", "operator": "gt", "threshold": 80}""");
        await Fixture.ExecuteAsync("INSERT INTO fleet.alert_rule_channels (rule_id, channel_id) VALUES (@Rule, @Channel)", new { Rule = rule, Channel = channel.Id });

        var read = await Fixture.SendAsAsync(viewer, new GetChannel.Query(channel.Id));

        (read.Id, read.Name, read.Type, read.RuleCount).ShouldBe((channel.Id, "mail", "EMAIL", 1L));
        read.Config.GetProperty("recipients")[0].GetString().ShouldBe("ops@example.test");
        read.Config.GetProperty("subject_prefix").GetString().ShouldBe("[cap]");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetChannel.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetChannel.Query(Guid.Empty)));
    }

    [Fact]
    public async Task Channels_are_listed_by_name_and_filtered_by_type()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var zulu = await Fixture.SendAsAsync(op, new CreateChannel.Command("zulu", "IN_APP", Json("{}"), null));
        var alpha = await Fixture.SendAsAsync(op, new CreateChannel.Command("alpha", "WEBHOOK", Json(Hook), null));
        var mike = await Fixture.SendAsAsync(op, new CreateChannel.Command("mike", "IN_APP", Json("{}"), null));

        var all = await Fixture.SendAsAsync(viewer, new ListChannels.Query(null));
        var inApp = await Fixture.SendAsAsync(viewer, new ListChannels.Query(" in_app "));

        all.Channels.Select(channel => channel.Id).ShouldBe([alpha.Id, mike.Id, zulu.Id]);
        all.Total.ShouldBe(3);
        inApp.Channels.Select(channel => channel.Id).ShouldBe([mike.Id, zulu.Id]);
        inApp.Data.Count.ShouldBe(2);
        all.Channels[0].Config.GetProperty("secret").GetString().ShouldBe("***");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListChannels.Query("PIGEON")));
    }

    [Fact]
    public async Task An_update_renames_disables_and_keeps_masked_values_it_gets_back()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var channel = await Fixture.SendAsAsync(op, new CreateChannel.Command("ops hook", "WEBHOOK", Json(Hook), null));

        var updated = await Fixture.SendAsAsync(op, new UpdateChannel.Command(
            channel.Id, " renamed ", Json("""{"url": "https://hooks.example.test/new", "method": "PUT", "headers": {"Authorization": "***"}, "secret": "***"}"""), false));

        (updated.Name, updated.Enabled, updated.Type).ShouldBe(("renamed", false, "WEBHOOK"));
        updated.Config.GetProperty("url").GetString().ShouldBe("https://hooks.example.test/new");
        updated.Config.GetProperty("method").GetString().ShouldBe("PUT");
        var stored = await StoredConfigAsync(channel.Id);
        stored.ShouldContain("sign-secret-1");
        stored.ShouldContain("Bearer hdr-secret-1");
        stored.ShouldNotContain("X-Team");
        (await Fixture.QueryAsync<(string, bool)>("SELECT name, enabled FROM fleet.notification_channels WHERE id = @Id", new { channel.Id })).ShouldBe([("renamed", false)]);
        (await Fixture.AuditAsync(channel.Id.ToString())).Select(row => row.Action).ShouldBe(["notification_channel.create", "notification_channel.update"]);

        // Only the name: the configuration stays.
        var renamed = await Fixture.SendAsAsync(op, new UpdateChannel.Command(channel.Id, "again", null, null));
        (renamed.Name, renamed.Enabled).ShouldBe(("again", false));
        (await StoredConfigAsync(channel.Id)).ShouldBe(stored);
    }

    [Fact]
    public async Task Invalid_updates_are_refused_and_an_unknown_channel_is_not_found()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var channel = await Fixture.SendAsAsync(op, new CreateChannel.Command("ops hook", "WEBHOOK", Json(Hook), null));
        var before = await StoredConfigAsync(channel.Id);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new UpdateChannel.Command(Guid.Empty, "x", null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new UpdateChannel.Command(channel.Id, "", null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new UpdateChannel.Command(channel.Id, new string('n', 129), null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new UpdateChannel.Command(channel.Id, null, Json("[1]"), null)));
        // A configuration that does not fit the channel's type is the handler's 400.
        var wrong = await Should.ThrowAsync<BadRequestException>(() =>
            Fixture.SendAsAsync(op, new UpdateChannel.Command(channel.Id, "renamed", Json("""{"url": "not a url"}"""), null)));
        wrong.Details!.Keys.ShouldBe(["config.url"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new UpdateChannel.Command(Guid.CreateVersion7(), "x", null, null)));

        (await Fixture.ScalarAsync<string>("SELECT name FROM fleet.notification_channels WHERE id = @Id", new { channel.Id })).ShouldBe("ops hook");
        (await StoredConfigAsync(channel.Id)).ShouldBe(before);
    }

    [Fact]
    public async Task Deleting_a_channel_detaches_it_from_its_rules_and_audits()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var channel = await Fixture.SendAsAsync(op, new CreateChannel.Command("pager", "IN_APP", Json("{}"), null));
        var kept = await Fixture.SendAsAsync(op, new CreateChannel.Command("kept", "IN_APP", Json("{}"), null));
        var rule = await Fixture.SendAsAsync(op, new CreateAlertRule.Command(
            "cpu", null, "THRESHOLD", "LOW", null, Json("""{"metric": "cpu_percent", "operator": "gt", "threshold": 80}"""), null, [channel.Id, kept.Id], null));

        var deleted = await Fixture.SendAsAsync(op, new DeleteChannel.Command(channel.Id));

        deleted.ShouldBe(new DeleteChannel.Response("Channel deleted", channel.Id, "pager"));
        (await Fixture.QueryAsync<Guid>("SELECT id FROM fleet.notification_channels")).ShouldBe([kept.Id]);
        (await Fixture.QueryAsync<Guid>("SELECT channel_id FROM fleet.alert_rule_channels WHERE rule_id = @Id", new { rule.Id })).ShouldBe([kept.Id]);
        (await Fixture.AuditAsync(channel.Id.ToString())).Select(row => row.Action).ShouldBe(["notification_channel.create", "notification_channel.delete"]);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new DeleteChannel.Command(channel.Id)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new DeleteChannel.Command(Guid.Empty)));
    }

    [Fact]
    public async Task Testing_a_channel_reports_the_delivery_and_audits_it()
    {
        var op = await Fixture.CreateUserAsync(BaseRole.Operator);
        var inApp = await Fixture.SendAsAsync(op, new CreateChannel.Command("in app", "IN_APP", Json("{}"), null));
        var mail = await Fixture.SendAsAsync(op, new CreateChannel.Command("mail", "EMAIL", Json("""{"recipients": ["ops@example.test"]}"""), null));

        var delivered = await Fixture.SendAsAsync(op, new TestChannel.Command(inApp.Id));
        // This fixture configures no SMTP server: the e-mail test fails and says why.
        var failed = await Fixture.SendAsAsync(op, new TestChannel.Command(mail.Id));

        (delivered.Success, delivered.Error, delivered.StatusCode, delivered.Channel).ShouldBe((true, (string?)null, (int?)null, new ChannelRef(inApp.Id, "in app", "IN_APP")));
        (failed.Success, failed.Error, failed.Channel.Type).ShouldBe((false, (string?)SmtpMail.NotConfigured, "EMAIL"));
        var audit = (await Fixture.AuditAsync(mail.Id.ToString(), "notification_channel.test")).ShouldHaveSingleItem();
        audit.ActorId.ShouldBe(op.Id);
        audit.Metadata.ShouldContain("\"success\": false");
        (await Fixture.AuditAsync(inApp.Id.ToString(), "notification_channel.test")).ShouldHaveSingleItem().Metadata.ShouldContain("\"success\": true");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(op, new TestChannel.Command(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(op, new TestChannel.Command(Guid.Empty)));
    }
}
