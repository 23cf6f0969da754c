using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class GetSettingsTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    [Fact]
    public async Task An_admin_reads_every_setting_with_its_default_and_lock_state()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var body = await (await admin.GetAsync("/api/v1/admin/settings")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["settings"]);
        var settings = body.GetProperty("settings");
        settings.PropertyNames().ShouldBe(["localLoginEnabled", "allowSignup", "domainAllowlist", "auditRetentionDays"]);
        foreach (var field in settings.EnumerateObject())
        {
            field.Value.PropertyNames().ShouldBe(["value", "overriddenByEnv"]);
            field.Value.GetProperty("overriddenByEnv").GetBoolean().ShouldBeFalse();
        }

        settings.GetProperty("localLoginEnabled").GetProperty("value").GetBoolean().ShouldBeTrue();
        settings.GetProperty("allowSignup").GetProperty("value").GetBoolean().ShouldBeFalse();
        settings.GetProperty("domainAllowlist").GetProperty("value").GetArrayLength().ShouldBe(0);
        settings.GetProperty("auditRetentionDays").GetProperty("value").GetInt32().ShouldBe(90);
    }

    [Fact]
    public async Task A_stored_value_replaces_the_default()
    {
        await Fixture.ExecuteAsync("INSERT INTO identity.settings (key, value) VALUES ('audit.retentionDays', '30'), ('auth.domainAllowlist', '[\"example.com\"]')");
        var admin = await ClientAsync(BaseRole.Admin);

        var settings = (await (await admin.GetAsync("/api/v1/admin/settings")).ShouldBeJsonAsync()).GetProperty("settings");

        settings.GetProperty("auditRetentionDays").GetProperty("value").GetInt32().ShouldBe(30);
        settings.GetProperty("domainAllowlist").GetProperty("value")[0].GetString().ShouldBe("example.com");
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var operatorClient = await ClientAsync(BaseRole.Operator);

        await (await Client.GetAsync("/api/v1/admin/settings")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await operatorClient.GetAsync("/api/v1/admin/settings")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}
