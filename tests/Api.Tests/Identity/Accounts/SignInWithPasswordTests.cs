using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Accounts;

public sealed class SignInWithPasswordTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Signs_in_by_email_with_the_superset_answer_and_the_cookies()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Developer);

        var response = await Client.PostAsJsonAsync("/v1/api/auth/login", new { email = user.Email, password = user.Password });

        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["success", "token", "expires_at", "user"]);
        var view = body.GetProperty("user");
        view.PropertyNames().ShouldBe(["id", "username", "email", "name", "role", "requiresPasswordChange", "canChangePassword", "authProvider", "avatarUrl", "createdAt", "display_name"]);
        view.GetProperty("id").GetGuid().ShouldBe(user.Id);
        view.GetProperty("role").GetString().ShouldBe("developer");
        Cookie(response, SessionCookies.SessionName).ShouldNotBeNullOrEmpty();
        Cookie(response, CsrfTokens.CookieName).ShouldNotBeNullOrEmpty();
        (await Fixture.ScalarAsync<string>("SELECT result FROM identity.audit_log WHERE action = 'auth.login'")).ShouldBe("success");
    }

    [Fact]
    public async Task A_username_works_too_and_bad_credentials_are_401()
    {
        var user = await Fixture.CreateUserAsync();

        (await Client.PostAsJsonAsync("/v1/api/auth/login", new { username = user.Username, password = user.Password })).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await (await Client.PostAsJsonAsync("/v1/api/auth/login", new { email = user.Email, password = "Wrong-Passw0rd!" }))
            .ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid username or password");
    }

    [Theory]
    [InlineData("""{"password": "x"}""", "email")]
    [InlineData("""{"email": "someone@example.test"}""", "password")]
    public async Task Missing_fields_are_400(string json, string field)
    {
        var response = await Client.PostAsync("/v1/api/auth/login", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Switched_off_local_sign_in_is_403()
    {
        var user = await Fixture.CreateUserAsync();
        await SetSettingAsync("auth.localLoginEnabled", "false");

        await (await Client.PostAsJsonAsync("/v1/api/auth/login", new { email = user.Email, password = user.Password })).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }
}
