using Capstan.Features.Identity;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class GetSettingsTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Fact]
    public async Task Every_defined_setting_is_answered_stored_values_first_then_defaults()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await Fixture.ExecuteAsync("INSERT INTO identity.settings (key, value) VALUES ('auth.allowSignup', 'true')");

        var settings = (await Fixture.SendAsAsync(admin, new GetSettings.Query())).Settings;

        settings.Keys.ShouldBe(AuthSettings.Definitions.Select(definition => definition.Field));
        settings[AuthSettings.AllowSignup].Value.GetBoolean().ShouldBeTrue();
        settings[AuthSettings.LocalLoginEnabled].Value.GetBoolean().ShouldBeTrue();
        settings[AuthSettings.AuditRetentionDays].Value.GetInt32().ShouldBe(90);
        settings.Values.ShouldAllBe(value => !value.OverriddenByEnv);
    }
}
