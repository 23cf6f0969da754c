using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Sso;

public sealed class ExchangeOAuthCodeTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task Trades_the_code_for_a_token_and_the_user()
    {
        var code = await CodeAsync();

        var response = await Client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code });

        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["token", "expires_at", "user"]);
        var user = body.GetProperty("user");
        user.PropertyNames().ShouldBe(["id", "username", "email", "name", "role", "avatarUrl", "createdAt", "authProvider"]);
        user.GetProperty("email").GetString().ShouldBe("alice@example.test");
        user.GetProperty("role").GetString().ShouldBe("operator");
        user.GetProperty("authProvider").GetString().ShouldBe("oidc");
        var client = Fixture.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.GetProperty("token").GetString());
        (await (await client.GetAsync("/v1/api/profile")).ShouldBeJsonAsync()).GetProperty("user").GetProperty("id").GetGuid()
            .ShouldBe(user.GetProperty("id").GetGuid());
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'auth.oauth_exchange' AND result = 'success'")).ShouldBe(1);
    }

    [Fact]
    public async Task A_code_works_once()
    {
        var code = await CodeAsync();
        (await Client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code })).StatusCode.ShouldBe(HttpStatusCode.OK);

        var again = await Client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code });

        (await again.ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid or expired code");
    }

    [Fact]
    public async Task Expired_unknown_and_deactivated_are_401()
    {
        var expired = await CodeAsync();
        await Fixture.ExecuteAsync("UPDATE identity.oauth_exchange_codes SET expires_at = now() - interval '1 second'");
        await (await Client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code = expired })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

        await (await Client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code = "made-up" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);

        var code = await CodeAsync();
        await Fixture.ExecuteAsync("UPDATE identity.users SET active = false");
        await (await Client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'auth.oauth_exchange' AND result = 'denied'")).ShouldBe(3);
    }

    [Theory]
    [InlineData("{}")]
    [InlineData("""{"code": ""}""")]
    public async Task A_missing_code_is_400(string json)
    {
        var response = await Client.PostAsync("/v1/api/auth/oauth/exchange", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe("Code is required");
    }

    private async Task<string> CodeAsync()
    {
        await AllowSignupAsync();
        if (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.auth_providers") == 0)
        {
            await CreateProviderAsync(new() { ["name"] = "corp" });
        }

        var run = await RunFlowAsync("/v1/api/auth/oauth/corp/authorize");
        return Query(run.Callback.Headers.Location!.ToString())["code"];
    }
}
