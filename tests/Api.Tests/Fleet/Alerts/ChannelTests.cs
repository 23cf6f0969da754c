using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Alerts;

public sealed class ChannelTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] ChannelFields = ["id", "name", "type", "config", "enabled", "createdBy", "createdAt", "updatedAt", "ruleCount"];

    [Fact]
    public async Task Secrets_are_sealed_at_rest_and_masked_in_answers()
    {
        var client = await As(BaseRole.Operator);

        var webhook = await (await client.PostJsonAsync("/api/v1/alerts/channels", new
        {
            name = "pager",
            type = "WEBHOOK",
            config = new { url = "https://hooks.example.test/in", method = "put", secret = "top-secret", headers = new Dictionary<string, string> { ["Authorization"] = "Bearer abc", ["X-Team"] = "ops" } },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var slack = await (await client.PostJsonAsync("/api/v1/alerts/channels", new
        {
            name = "chat",
            type = "SLACK",
            config = new { webhookUrl = "https://hooks.slack.test/services/T0/B0/tokenvalue", channel = "#ops" },
        })).ShouldBeJsonAsync(HttpStatusCode.Created);

        webhook.PropertyNames().ShouldBe(ChannelFields);
        var config = webhook.GetProperty("config");
        config.GetProperty("secret").GetString().ShouldBe("***");
        config.GetProperty("method").GetString().ShouldBe("PUT");
        config.GetProperty("headers").GetProperty("Authorization").GetString().ShouldBe("***");
        config.GetProperty("headers").GetProperty("X-Team").GetString().ShouldBe("ops");
        slack.GetProperty("config").GetProperty("webhook_url").GetString().ShouldBe("https://hooks.slack.test/services/T0/B0/***");
        var stored = await Fixture.QueryAsync<byte[]>("SELECT config_sealed FROM fleet.notification_channels");
        stored.ShouldAllBe(bytes => !Encoding.UTF8.GetString(bytes).Contains("top-secret") && !Encoding.UTF8.GetString(bytes).Contains("tokenvalue"));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.notification_channels WHERE config_masked::text LIKE '%top-secret%'")).ShouldBe(0);
    }

    [Theory]
    [InlineData("{\"type\":\"WEBHOOK\",\"config\":{\"url\":\"https://x.test\"}}", "name")]
    [InlineData("{\"name\":\"c\",\"type\":\"PAGERDUTY\",\"config\":{}}", "type")]
    [InlineData("{\"name\":\"c\",\"type\":\"WEBHOOK\",\"config\":{\"url\":\"ftp://x.test\"}}", "config.url")]
    [InlineData("{\"name\":\"c\",\"type\":\"WEBHOOK\",\"config\":{\"url\":\"https://x.test\",\"method\":\"GET\"}}", "config.method")]
    [InlineData("{\"name\":\"c\",\"type\":\"WEBHOOK\",\"config\":{\"url\":\"https://x.test\",\"headers\":{\"bad header\":\"x\"}}}", "config.headers")]
    [InlineData("{\"name\":\"c\",\"type\":\"SLACK\",\"config\":{}}", "config.webhook_url")]
    [InlineData("{\"name\":\"c\",\"type\":\"EMAIL\",\"config\":{\"recipients\":[]}}", "config.recipients")]
    [InlineData("{\"name\":\"c\",\"type\":\"EMAIL\",\"config\":{\"recipients\":[\"not-an-address\"]}}", "config.recipients")]
    [InlineData("{\"name\":\"c\",\"type\":\"IN_APP\",\"config\":{\"user_ids\":[\"nope\"]}}", "config.user_ids")]
    [InlineData("{\"name\":\"c\",\"type\":\"IN_APP\"}", "config")]
    public async Task Bad_channels_are_400_naming_the_field(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync("/api/v1/alerts/channels", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Channels_are_listed_read_updated_keeping_masked_secrets_and_deleted()
    {
        await using var receiver = await HttpStandIn.StartAsync();
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/channels", new
        {
            name = "hook",
            type = "WEBHOOK",
            config = new { url = receiver.Url("/old"), secret = "keep-me" },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await client.PostJsonAsync("/api/v1/alerts/channels", new { name = "app", type = "IN_APP", config = new { } });
        var viewer = await As(BaseRole.Viewer);

        var list = await (await viewer.GetAsync("/api/v1/alerts/channels")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["channels", "data", "total"]);
        list.GetProperty("channels").EnumerateArray().Select(channel => channel.GetProperty("name").GetString()).ShouldBe(["app", "hook"]);
        (await (await viewer.GetAsync("/api/v1/alerts/channels?type=WEBHOOK")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(1);
        (await (await viewer.GetAsync($"/api/v1/alerts/channels/{id}")).ShouldBeJsonAsync()).PropertyNames().ShouldBe(ChannelFields);

        var updated = await (await client.PutAsJsonAsync($"/api/v1/alerts/channels/{id}", new { name = "hook-2", enabled = false, config = new { url = receiver.Url("/new"), secret = "***" } }))
            .ShouldBeJsonAsync();
        updated.GetProperty("name").GetString().ShouldBe("hook-2");
        updated.GetProperty("enabled").GetBoolean().ShouldBeFalse();

        // The test goes out signed with the secret kept through the masked update.
        var test = await (await client.PostAsync($"/api/v1/alerts/channels/{id}/test", null)).ShouldBeJsonAsync();
        test.GetProperty("success").GetBoolean().ShouldBeTrue();
        var delivered = (await receiver.WaitForAsync(1)).Single();
        delivered.Path.ShouldBe("/new");
        delivered.Headers["X-Sindri-Signature"].ShouldBe("sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes("keep-me"), delivered.Body)));

        var deleted = await (await client.DeleteAsync($"/api/v1/alerts/channels/{id}")).ShouldBeJsonAsync();
        deleted.GetProperty("message").GetString().ShouldBe("Channel deleted");
        await (await viewer.GetAsync($"/api/v1/alerts/channels/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_bad_configuration_on_update_is_400()
    {
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/channels", new { name = "mail", type = "EMAIL", config = new { recipients = new[] { "a@b.test" } } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        (await (await client.PutAsJsonAsync($"/api/v1/alerts/channels/{id}", new { config = new { recipients = Array.Empty<string>() } })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("config.recipients", out _).ShouldBeTrue();
        await (await client.PutAsJsonAsync($"/api/v1/alerts/channels/{id}", new { config = "text" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task The_test_reports_a_failing_endpoint_without_failing_the_request()
    {
        await using var receiver = await HttpStandIn.StartAsync();
        receiver.Responses.Enqueue(503);
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/channels", new { name = "down", type = "WEBHOOK", config = new { url = receiver.Url("/x") } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var body = await (await client.PostAsync($"/api/v1/alerts/channels/{id}/test", null)).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["success", "error", "statusCode", "durationMs", "channel"]);
        body.GetProperty("success").GetBoolean().ShouldBeFalse();
        body.GetProperty("statusCode").GetInt32().ShouldBe(503);
        body.GetProperty("error").GetString()!.ShouldContain("503");
        receiver.Requests.Count.ShouldBe(1);
    }

    [Fact]
    public async Task The_test_times_out_on_a_slow_endpoint()
    {
        await using var receiver = await HttpStandIn.StartAsync();
        receiver.Delay = TimeSpan.FromSeconds(5);
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/channels", new { name = "slow", type = "WEBHOOK", config = new { url = receiver.Url("/x") } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var body = await (await client.PostAsync($"/api/v1/alerts/channels/{id}/test", null)).ShouldBeJsonAsync();

        body.GetProperty("success").GetBoolean().ShouldBeFalse();
        body.GetProperty("error").GetString()!.ShouldStartWith("Timed out");
    }

    [Fact]
    public async Task Slack_channels_post_an_incoming_webhook_message()
    {
        await using var slack = await HttpStandIn.StartAsync();
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/channels", new
        {
            name = "slack",
            type = "SLACK",
            config = new { webhook_url = slack.Url("/services/T1/B1/xyz"), channel = "#alerts", username = "Capstan" },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        (await (await client.PostAsync($"/api/v1/alerts/channels/{id}/test", null)).ShouldBeJsonAsync()).GetProperty("success").GetBoolean().ShouldBeTrue();

        var message = JsonDocument.Parse((await slack.WaitForAsync(1)).Single().Body).RootElement;
        message.GetProperty("channel").GetString().ShouldBe("#alerts");
        message.GetProperty("username").GetString().ShouldBe("Capstan");
        var attachment = message.GetProperty("attachments")[0];
        attachment.GetProperty("color").GetString().ShouldBe("#999999");
        attachment.GetProperty("title").GetString()!.ShouldEndWith("Test Notification");
        attachment.GetProperty("fields").EnumerateArray().Select(field => field.GetProperty("title").GetString()).ShouldContain("Severity");
    }

    [Fact]
    public async Task Email_channels_send_through_the_configured_smtp_server()
    {
        Fixture.Smtp.Messages.Clear();
        var client = await As(BaseRole.Operator);
        var id = (await (await client.PostJsonAsync("/api/v1/alerts/channels", new
        {
            name = "mail",
            type = "EMAIL",
            config = new { recipients = new[] { "oncall@example.test", "lead@example.test" }, subject_prefix = "[Capstan]" },
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var body = await (await client.PostAsync($"/api/v1/alerts/channels/{id}/test", null)).ShouldBeJsonAsync();

        body.GetProperty("success").GetBoolean().ShouldBeTrue(body.GetRawText());
        var message = (await Fixture.Smtp.WaitForAsync(1)).Single();
        message.From.ShouldBe("alerts@capstan.test");
        message.To.ShouldBe(["oncall@example.test", "lead@example.test"]);
        message.Data.ShouldContain("Subject: [Capstan] INFO: Test Notification");
    }

    [Fact]
    public async Task Testing_an_unknown_channel_is_404()
    {
        var client = await As(BaseRole.Operator);

        await (await client.PostAsync($"/api/v1/alerts/channels/{Guid.CreateVersion7()}/test", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PutAsJsonAsync($"/api/v1/alerts/channels/{Guid.CreateVersion7()}", new { name = "x" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/api/v1/alerts/channels/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/alerts/channels/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
