using System.Net;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class UpdateSettingsTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    private const string Path = "/api/v1/admin/settings";

    [Fact]
    public async Task An_admin_changes_settings_which_are_normalised_stored_and_audited()
    {
        var (admin, adminUser) = await Fixture.ClientAsAsync(BaseRole.Admin);

        var response = await PatchJsonAsync(admin, Path, """
            {"allowSignup": true, "domainAllowlist": [" Example.COM ", "example.com", "", "corp.test"], "auditRetentionDays": 30.9, "localLoginEnabled": true}
            """);

        var settings = (await response.ShouldBeJsonAsync()).GetProperty("settings");
        settings.GetProperty("allowSignup").GetProperty("value").GetBoolean().ShouldBeTrue();
        settings.GetProperty("domainAllowlist").GetProperty("value").EnumerateArray().Select(item => item.GetString()).ShouldBe(["example.com", "corp.test"]);
        settings.GetProperty("auditRetentionDays").GetProperty("value").GetRawText().ShouldBe("30");
        var stored = await Fixture.QueryAsync<(string Key, string Value, Guid UpdatedBy)>("SELECT key, value::text, updated_by FROM identity.settings ORDER BY key");
        stored.Select(row => (row.Key, row.Value)).ShouldBe(
        [
            ("audit.retentionDays", "30"),
            ("auth.allowSignup", "true"),
            ("auth.domainAllowlist", "[\"example.com\", \"corp.test\"]"),
            ("auth.localLoginEnabled", "true"),
        ]);
        stored.ShouldAllBe(row => row.UpdatedBy == adminUser.Id);

        var metadata = JsonDocument.Parse((await Fixture.ScalarAsync<string>("SELECT metadata::text FROM identity.audit_log WHERE action = 'settings.update'"))!).RootElement;
        metadata.GetProperty("requested_keys").EnumerateArray().Select(item => item.GetString())
            .ShouldBe(["allowSignup", "domainAllowlist", "auditRetentionDays", "localLoginEnabled"]);
        metadata.GetProperty("changed_keys").EnumerateArray().Select(item => item.GetString()).ShouldBe(["allowSignup", "domainAllowlist", "auditRetentionDays"]);
    }

    [Fact]
    public async Task The_new_values_take_effect_local_login_switched_off_refuses_password_sign_in()
    {
        var admin = await ClientAsync(BaseRole.Admin);
        var user = await Fixture.CreateUserAsync();

        (await PatchJsonAsync(admin, Path, """{"localLoginEnabled": false}""")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var login = await Client.PostAsync("/api/v1/auth/login", Json($$"""{"username":"{{user.Username}}","password":"{{user.Password}}"}"""));
        await login.ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task An_empty_object_answers_the_current_settings_and_changes_nothing()
    {
        await Fixture.ExecuteAsync("INSERT INTO identity.settings (key, value) VALUES ('auth.allowSignup', 'true')");
        var admin = await ClientAsync(BaseRole.Admin);

        var settings = (await (await PatchJsonAsync(admin, Path, "{}")).ShouldBeJsonAsync()).GetProperty("settings");

        settings.GetProperty("allowSignup").GetProperty("value").GetBoolean().ShouldBeTrue();
        settings.PropertyNames().Count.ShouldBe(4);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.settings")).ShouldBe(1);
    }

    [Theory]
    [InlineData("{\"allowSignup\": tru", "Invalid JSON body")]
    [InlineData("", "Invalid JSON body")]
    [InlineData("[]", "Invalid request body")]
    [InlineData("\"allowSignup\"", "Invalid request body")]
    [InlineData("null", "Invalid request body")]
    [InlineData("{\"allowSignup\": true, \"theme\": \"dark\", \"sso\": 1}", "Unknown setting field(s): theme, sso")]
    [InlineData("{\"allowSignup\": \"yes\", \"theme\": \"dark\"}", "Unknown setting field(s): theme")]
    [InlineData("{\"localLoginEnabled\": 1}", "localLoginEnabled must be a boolean")]
    [InlineData("{\"allowSignup\": null}", "allowSignup must be a boolean")]
    [InlineData("{\"domainAllowlist\": \"example.com\"}", "domainAllowlist must be an array of strings")]
    [InlineData("{\"domainAllowlist\": [\"example.com\", 7]}", "domainAllowlist entries must be strings")]
    [InlineData("{\"auditRetentionDays\": \"30\"}", "auditRetentionDays must be a finite number")]
    [InlineData("{\"auditRetentionDays\": 1e400}", "auditRetentionDays must be a finite number")]
    [InlineData("{\"auditRetentionDays\": 0.5}", "auditRetentionDays must be between 1 and 3650")]
    [InlineData("{\"auditRetentionDays\": 3651}", "auditRetentionDays must be between 1 and 3650")]
    [InlineData("{\"auditRetentionDays\": -5}", "auditRetentionDays must be between 1 and 3650")]
    public async Task Bad_bodies_are_400_with_gyres_messages_and_nothing_is_written(string json, string message)
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await PatchJsonAsync(admin, Path, json);

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe(message);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.settings")).ShouldBe(0);
    }

    [Fact]
    public async Task One_bad_field_among_good_ones_writes_none_and_names_each_bad_field()
    {
        var admin = await ClientAsync(BaseRole.Admin);

        var response = await PatchJsonAsync(admin, Path, """{"allowSignup": true, "auditRetentionDays": 0, "localLoginEnabled": "no"}""");

        var details = (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details");
        details.GetProperty("auditRetentionDays")[0].GetString().ShouldBe("auditRetentionDays must be between 1 and 3650");
        details.GetProperty("localLoginEnabled")[0].GetString().ShouldBe("localLoginEnabled must be a boolean");
        details.TryGetProperty("allowSignup", out _).ShouldBeFalse();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.settings")).ShouldBe(0);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var operatorClient = await ClientAsync(BaseRole.Operator);

        await (await PatchJsonAsync(Client, Path, """{"allowSignup": true}""")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await PatchJsonAsync(operatorClient, Path, """{"allowSignup": true}""")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.settings")).ShouldBe(0);
    }
}

/// <summary>A host whose environment locks two settings.</summary>
public sealed class EnvLockedSettingsFixture : ApiFixture
{
    protected override string Purpose => "identity_settings_env";

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, new Dictionary<string, string?>
    {
        ["GYRE_AUTH_LOCAL_LOGIN_ENABLED"] = "false",
        ["GYRE_AUTH_DOMAIN_ALLOWLIST"] = "Example.com, corp.test",
    });
}

[CollectionDefinition(Name)]
public sealed class EnvLockedSettingsCollection : ICollectionFixture<EnvLockedSettingsFixture>
{
    public const string Name = "identity-settings-env";
}

[Collection(EnvLockedSettingsCollection.Name)]
public sealed class EnvLockedSettingsTests(EnvLockedSettingsFixture fixture) : ApiTest<EnvLockedSettingsFixture>(fixture)
{
    [Fact]
    public async Task Get_shows_the_environments_values_as_overridden()
    {
        var admin = (await Fixture.ClientAsAsync(BaseRole.Admin)).Client;

        var settings = (await (await admin.GetAsync("/api/v1/admin/settings")).ShouldBeJsonAsync()).GetProperty("settings");

        settings.GetProperty("localLoginEnabled").GetProperty("value").GetBoolean().ShouldBeFalse();
        settings.GetProperty("localLoginEnabled").GetProperty("overriddenByEnv").GetBoolean().ShouldBeTrue();
        settings.GetProperty("domainAllowlist").GetProperty("value").EnumerateArray().Select(item => item.GetString()).ShouldBe(["example.com", "corp.test"]);
        settings.GetProperty("allowSignup").GetProperty("overriddenByEnv").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task Locked_fields_are_409_naming_field_and_variable_and_nothing_is_written()
    {
        var admin = (await Fixture.ClientAsAsync(BaseRole.Admin)).Client;

        var response = await admin.PatchAsync("/api/v1/admin/settings", new StringContent(
            """{"allowSignup": true, "localLoginEnabled": true, "domainAllowlist": []}""", System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString().ShouldBe(
            "Setting field(s) are locked by environment variable: localLoginEnabled (GYRE_AUTH_LOCAL_LOGIN_ENABLED), domainAllowlist (GYRE_AUTH_DOMAIN_ALLOWLIST)");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.settings")).ShouldBe(0);
    }

    [Fact]
    public async Task Type_errors_are_reported_before_the_lock_and_unlocked_fields_still_change()
    {
        var admin = (await Fixture.ClientAsAsync(BaseRole.Admin)).Client;

        var typeError = await admin.PatchAsync("/api/v1/admin/settings", new StringContent("""{"localLoginEnabled": "yes"}""", System.Text.Encoding.UTF8, "application/json"));
        var unlocked = await admin.PatchAsync("/api/v1/admin/settings", new StringContent("""{"allowSignup": true}""", System.Text.Encoding.UTF8, "application/json"));

        (await typeError.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe("localLoginEnabled must be a boolean");
        (await unlocked.ShouldBeJsonAsync()).GetProperty("settings").GetProperty("allowSignup").GetProperty("value").GetBoolean().ShouldBeTrue();
    }
}
