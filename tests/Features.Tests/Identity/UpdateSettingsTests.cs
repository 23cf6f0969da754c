using System.Text.Json;
using Capstan.Features.Identity;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class UpdateSettingsTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task Changed_keys_are_those_whose_effective_value_moves()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await Fixture.ExecuteAsync("INSERT INTO identity.settings (key, value) VALUES ('auth.domainAllowlist', '[\"a.test\"]')");

        var settings = (await Fixture.SendAsAsync(admin, new UpdateSettings.Command(Json("""
            {"domainAllowlist": ["A.test"], "allowSignup": false, "auditRetentionDays": 7}
            """)))).Settings;

        settings[AuthSettings.AuditRetentionDays].Value.GetInt32().ShouldBe(7);
        var metadata = JsonDocument.Parse((await Fixture.ScalarAsync<string>("SELECT metadata::text FROM identity.audit_log WHERE action = 'settings.update'"))!).RootElement;
        metadata.GetProperty("requested_keys").EnumerateArray().Select(item => item.GetString()).ShouldBe(["domainAllowlist", "allowSignup", "auditRetentionDays"]);
        metadata.GetProperty("changed_keys").EnumerateArray().Select(item => item.GetString()).ShouldBe(["auditRetentionDays"]);
    }

    [Fact]
    public async Task A_repeated_field_counts_once_with_its_last_value()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var settings = (await Fixture.SendAsAsync(admin, new UpdateSettings.Command(Json("""{"allowSignup": true, "allowSignup": false}""")))).Settings;

        settings[AuthSettings.AllowSignup].Value.GetBoolean().ShouldBeFalse();
        (await Fixture.ScalarAsync<string>("SELECT value::text FROM identity.settings WHERE key = 'auth.allowSignup'")).ShouldBe("false");
    }

    [Theory]
    [InlineData("[1]", "body", "Invalid request body")]
    [InlineData("""{"x": 1, "localLoginEnabled": "no"}""", "body", "Unknown setting field(s): x")]
    [InlineData("""{"localLoginEnabled": "no"}""", "localLoginEnabled", "localLoginEnabled must be a boolean")]
    public void The_validator_follows_gyres_order_and_stops_at_the_first_failing_step(string json, string field, string message)
    {
        var result = new UpdateSettings.Validator().Validate(new UpdateSettings.Command(Json(json)));

        result.Errors.ShouldHaveSingleItem().ErrorMessage.ShouldBe(message);
        result.Errors[0].PropertyName.ShouldBe(field);
    }

    [Theory]
    [InlineData("domainAllowlist", """[" B.test ", "b.test", "", "  ", "c.TEST"]""", """["b.test","c.test"]""")]
    [InlineData("domainAllowlist", "[]", "[]")]
    [InlineData("auditRetentionDays", "1", "1")]
    [InlineData("auditRetentionDays", "3650.99", "3650")]
    [InlineData("auditRetentionDays", "1.0", "1")]
    [InlineData("allowSignup", "false", "false")]
    public void Check_normalises_accepted_values(string field, string value, string stored)
    {
        var check = AuthSettings.Check(AuthSettings.Find(field)!, Json(value));

        check.Error.ShouldBeNull();
        check.Value!.Value.GetRawText().ShouldBe(stored);
    }

    [Fact]
    public void Find_knows_only_the_defined_fields()
    {
        AuthSettings.Find("auditRetentionDays")!.EnvironmentVariable.ShouldBe("GYRE_AUDIT_LOG_RETENTION_DAYS");
        AuthSettings.Find("AuditRetentionDays").ShouldBeNull();
        AuthSettings.Find("audit.retentionDays").ShouldBeNull();
    }
}
