using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Identity.Accounts;

public sealed class RefreshTokenTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task A_live_token_gets_a_fresh_one_for_the_same_session()
    {
        var (user, token, sessionId) = await SignInAsync();

        var response = await RefreshAsync(token);

        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["token", "expires_at", "user"]);
        body.GetProperty("user").PropertyNames().ShouldBe(["id", "username", "email", "name", "role", "avatarUrl", "createdAt", "authProvider"]);
        body.GetProperty("user").GetProperty("id").GetGuid().ShouldBe(user.Id);
        var fresh = body.GetProperty("token").GetString()!;
        var claims = await Fixture.Services.GetRequiredService<SessionTokens>().ReadAsync(fresh, TimeSpan.Zero);
        claims!.SessionId.ShouldBe(sessionId);
        (await Fixture.ScalarAsync<string>("SELECT result FROM identity.audit_log WHERE action = 'auth.refresh'")).ShouldBe("success");
    }

    [Fact]
    public async Task An_expired_token_is_accepted_within_the_grace_days_only()
    {
        var (user, _, sessionId) = await SignInAsync();
        var tokens = Fixture.Services.GetRequiredService<SessionTokens>();
        var lately = tokens.Issue(user.Id, user.Username, "viewer", sessionId, DateTimeOffset.UtcNow.AddDays(-6));
        var longAgo = tokens.Issue(user.Id, user.Username, "viewer", sessionId, DateTimeOffset.UtcNow.AddDays(-8));

        (await RefreshAsync(lately)).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await (await RefreshAsync(longAgo)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid token");
    }

    [Fact]
    public async Task A_signed_out_session_cannot_refresh()
    {
        var (_, token, _) = await SignInAsync();
        var client = Fixture.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        (await client.PostAsync("/api/v1/auth/logout", null)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await (await RefreshAsync(token)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid token");
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'error_kind' FROM identity.audit_log WHERE action = 'auth.refresh'")).ShouldBe("session_ended");
    }

    [Fact]
    public async Task Headers_and_tokens_that_are_not_session_tokens_get_kubeorchs_401s()
    {
        var (user, _, _) = await SignInAsync();
        var apiKey = await Fixture.CreateApiKeyAsync(user);

        (await (await Client.PostAsync("/v1/api/auth/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized))
            .GetProperty("message").GetString().ShouldBe("Authorization header is required");
        using var basic = new HttpRequestMessage(HttpMethod.Post, "/v1/api/auth/refresh");
        basic.Headers.Authorization = new AuthenticationHeaderValue("Basic", "dXNlcjpwdw==");
        (await (await Client.SendAsync(basic)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized))
            .GetProperty("message").GetString().ShouldBe("Authorization header must start with 'Bearer '");
        (await (await RefreshAsync("eyJhbGciOiJIUzI1NiJ9.e30.forged")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid token");
        await (await RefreshAsync(apiKey)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    private async Task<(TestUser User, string Token, Guid SessionId)> SignInAsync()
    {
        var user = await Fixture.CreateUserAsync();
        var login = await Client.PostAsJsonAsync("/v1/api/auth/login", new { email = user.Email, password = user.Password });
        var token = (await login.ShouldBeJsonAsync()).GetProperty("token").GetString()!;
        var claims = await Fixture.Services.GetRequiredService<SessionTokens>().ReadAsync(token, TimeSpan.Zero);
        return (user, token, claims!.SessionId);
    }

    private Task<HttpResponseMessage> RefreshAsync(string token)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/api/auth/refresh");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return Client.SendAsync(request);
    }
}
