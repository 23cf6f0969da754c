using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Accounts;

public sealed class GetAuthMethodsTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Anyone_sees_the_methods_and_the_enabled_providers_only()
    {
        await CreateProviderAsync(new() { ["name"] = "GitHub", ["type"] = "oauth2-github", ["issuerUrl"] = null, ["scopes"] = "read:user", ["clientSecret"] = "methods-secret" });
        await CreateProviderAsync(new() { ["name"] = "Hidden", ["enabled"] = false });

        var response = await Client.GetAsync("/v1/api/auth/methods");

        (await response.Content.ReadAsStringAsync()).ShouldNotContain("methods-secret");
        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["builtin", "providers"]);
        body.GetProperty("builtin").PropertyNames().ShouldBe(["enabled", "signupEnabled", "inviteRequired"]);
        body.GetProperty("builtin").GetProperty("enabled").GetBoolean().ShouldBeTrue();
        body.GetProperty("builtin").GetProperty("signupEnabled").GetBoolean().ShouldBeTrue();
        body.GetProperty("builtin").GetProperty("inviteRequired").GetBoolean().ShouldBeTrue();
        var provider = body.GetProperty("providers").EnumerateArray().ShouldHaveSingleItem();
        provider.PropertyNames().ShouldBe(["id", "name", "displayName", "icon", "type"]);
        provider.GetProperty("name").GetString().ShouldBe("GitHub");
        provider.GetProperty("icon").GetString().ShouldBe("github");
    }

    [Fact]
    public async Task The_builtin_flags_follow_the_settings()
    {
        await SetSettingAsync("auth.localLoginEnabled", "false");
        await AllowSignupAsync();
        await Fixture.CreateUserAsync(BaseRole.Admin);

        var builtin = (await (await Client.GetAsync("/v1/api/auth/methods")).ShouldBeJsonAsync()).GetProperty("builtin");

        builtin.GetProperty("enabled").GetBoolean().ShouldBeFalse();
        builtin.GetProperty("signupEnabled").GetBoolean().ShouldBeFalse();
        builtin.GetProperty("inviteRequired").GetBoolean().ShouldBeFalse();
    }
}
