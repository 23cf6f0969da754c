using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class LoginTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Login_returns_the_union_of_the_seeds_fields_and_sets_the_cookies()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);

        var response = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });

        var body = await response.ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["success", "token", "expires_at", "user"]);
        body.GetProperty("success").GetBoolean().ShouldBeTrue();
        body.GetProperty("token").GetString()!.Split('.').Length.ShouldBe(3);
        DateTimeOffset.Parse(body.GetProperty("expires_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture).ShouldBeGreaterThan(DateTimeOffset.UtcNow);
        var userView = body.GetProperty("user");
        userView.GetProperty("id").GetGuid().ShouldBe(user.Id);
        userView.GetProperty("username").GetString().ShouldBe(user.Username);
        userView.GetProperty("email").GetString().ShouldBe(user.Email);
        userView.GetProperty("role").GetString().ShouldBe("operator");
        foreach (var field in new[] { "name", "requiresPasswordChange", "canChangePassword", "authProvider", "avatarUrl", "createdAt", "display_name" })
        {
            userView.TryGetProperty(field, out _).ShouldBeTrue(field);
        }

        var cookies = response.Headers.GetValues("Set-Cookie").ToList();
        cookies.ShouldContain(cookie => cookie.StartsWith("gyre_session=", StringComparison.Ordinal) && cookie.Contains("httponly", StringComparison.OrdinalIgnoreCase)
            && cookie.Contains("samesite=lax", StringComparison.OrdinalIgnoreCase));
        cookies.ShouldContain(cookie => cookie.StartsWith("gyre_csrf=", StringComparison.Ordinal) && !cookie.Contains("httponly", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Login_accepts_the_email_as_seed_003_sends_it()
    {
        var user = await Fixture.CreateUserAsync();

        var response = await Client.PostAsJsonAsync("/api/v1/auth/login", new { email = user.Email!.ToUpperInvariant(), password = user.Password });

        (await response.ShouldBeJsonAsync()).GetProperty("user").GetProperty("id").GetGuid().ShouldBe(user.Id);
    }

    [Fact]
    public async Task The_token_authenticates_as_bearer_until_logout()
    {
        var user = await Fixture.CreateUserAsync();
        var token = await LoginAsync(user);
        var authenticated = Fixture.CreateClient();
        authenticated.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);

        (await authenticated.GetAsync("/api/v1/version")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await authenticated.PostAsync("/api/v1/auth/logout", null)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var after = await authenticated.GetAsync("/api/v1/version");
        (await after.ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Session expired or signed out");
    }

    [Fact]
    public async Task Wrong_password_and_unknown_user_get_the_same_401()
    {
        var user = await Fixture.CreateUserAsync();

        var wrong = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = "Wrong-Password-1" });
        var unknown = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = "nobody-here", password = "Wrong-Password-1" });

        (await wrong.ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid username or password");
        (await unknown.ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Invalid username or password");
    }

    [Fact]
    public async Task Deactivated_users_cannot_sign_in()
    {
        var user = await Fixture.CreateUserAsync(active: false);

        var response = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });

        await response.ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("{\"password\":\"x\"}", "username")]
    [InlineData("{\"username\":\"someone\"}", "password")]
    public async Task Missing_fields_are_400(string json, string field)
    {
        var response = await Client.PostAsync("/api/v1/auth/login", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Five_failures_lock_the_account_with_retry_after_and_a_success_resets()
    {
        var user = await Fixture.CreateUserAsync();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            (await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = "Wrong-Password-1" }))
                .StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        }

        var locked = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });

        (await locked.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests)).GetProperty("message").GetString()!.ShouldStartWith("Account locked");
        locked.Headers.RetryAfter!.Delta!.Value.TotalSeconds.ShouldBeInRange(1, 60);

        await Fixture.ExecuteAsync("UPDATE identity.login_failures SET locked_until = now() - interval '1 second'");
        (await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password })).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.login_failures")).ShouldBe(0);
    }

    [Fact]
    public async Task Lockout_doubles_after_the_fifth_failure()
    {
        var user = await Fixture.CreateUserAsync();
        for (var attempt = 0; attempt < 7; attempt++)
        {
            await Fixture.ExecuteAsync("UPDATE identity.login_failures SET locked_until = NULL");
            await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = "Wrong-Password-1" });
        }

        var minutes = await Fixture.ScalarAsync<double>("SELECT extract(epoch FROM locked_until - updated_at) / 60 FROM identity.login_failures");
        minutes.ShouldBe(4, tolerance: 0.1);
    }

    [Fact]
    public async Task Every_attempt_is_audited_without_the_password()
    {
        var user = await Fixture.CreateUserAsync();

        await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = "Wrong-Password-1" });
        await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });

        var rows = await Fixture.QueryAsync<(string Result, string ActorType, string Metadata)>(
            "SELECT result, actor_type, metadata::text FROM identity.audit_log WHERE action = 'auth.login' ORDER BY occurred_at");
        rows.Select(row => row.Result).ShouldBe(["denied", "success"]);
        rows[0].Metadata.ShouldContain("wrong_password");
        rows[1].ActorType.ShouldBe("user");
        rows.ShouldAllBe(row => !row.Metadata.Contains("Wrong-Password-1") && !row.Metadata.Contains(TestAccounts.Password));
    }

    [Fact]
    public async Task Local_login_switched_off_is_403()
    {
        var user = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync("INSERT INTO identity.settings (key, value) VALUES ('auth.localLoginEnabled', 'false')");

        var response = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });

        (await response.ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString().ShouldBe("Local username/password sign-in is disabled.");
    }

    [Fact]
    public async Task A_cookie_session_authenticates_and_needs_the_csrf_token_to_change_state()
    {
        var user = await Fixture.CreateUserAsync();
        var login = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });
        var cookies = login.Headers.GetValues("Set-Cookie").Select(cookie => cookie.Split(';')[0]).ToList();
        var csrf = cookies.Single(cookie => cookie.StartsWith("gyre_csrf=", StringComparison.Ordinal))["gyre_csrf=".Length..];

        using var read = new HttpRequestMessage(HttpMethod.Get, "/api/v1/version");
        read.Headers.Add("Cookie", string.Join("; ", cookies));
        (await Client.SendAsync(read)).StatusCode.ShouldBe(HttpStatusCode.OK);

        using var withoutToken = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout");
        withoutToken.Headers.Add("Cookie", string.Join("; ", cookies));
        var refused = await Client.SendAsync(withoutToken);
        (await refused.ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString().ShouldBe("Invalid or missing CSRF token");

        using var withToken = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/logout");
        withToken.Headers.Add("Cookie", string.Join("; ", cookies));
        withToken.Headers.Add("X-CSRF-Token", csrf);
        var loggedOut = await Client.SendAsync(withToken);
        loggedOut.StatusCode.ShouldBe(HttpStatusCode.OK);
        loggedOut.Headers.GetValues("Set-Cookie").ShouldContain(cookie => cookie.StartsWith("gyre_session=;", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Signing_in_again_from_the_same_browser_ends_the_old_session()
    {
        var user = await Fixture.CreateUserAsync();
        var first = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });
        var cookie = first.Headers.GetValues("Set-Cookie").First(value => value.StartsWith("gyre_session=", StringComparison.Ordinal)).Split(';')[0];

        using var again = new HttpRequestMessage(HttpMethod.Post, "/api/v1/auth/login") { Content = JsonContent.Create(new { username = user.Username, password = user.Password }) };
        again.Headers.Add("Cookie", cookie);
        (await Client.SendAsync(again)).StatusCode.ShouldBe(HttpStatusCode.OK);

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions WHERE user_id = @Id AND revoked_at IS NULL", new { user.Id })).ShouldBe(1);
    }

    [Fact]
    public async Task A_user_keeps_at_most_ten_sessions()
    {
        var user = await Fixture.CreateUserAsync();
        for (var i = 0; i < 12; i++)
        {
            await LoginAsync(user);
        }

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions WHERE user_id = @Id AND revoked_at IS NULL", new { user.Id })).ShouldBe(10);
    }

    private async Task<string> LoginAsync(TestUser user)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });
        return (await response.ShouldBeJsonAsync()).GetProperty("token").GetString()!;
    }
}

/// <summary>The per-IP sign-in limit, on a host of its own with a low limit.</summary>
public sealed class LoginRateLimitTests
{
    [Fact]
    public async Task Too_many_attempts_from_one_address_get_429_with_retry_after()
    {
        await using var factory = new ApiFactory(PostgresServer.CreateDatabase("ratelimit"), new Dictionary<string, string?> { ["Identity:LoginRateLimit:PermitPerMinute"] = "3" });
        await factory.WaitUntilReadyAsync();
        using var client = factory.CreateClient();

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 5; i++)
        {
            statuses.Add((await client.PostAsJsonAsync("/api/v1/auth/login", new { username = "nobody", password = "Wrong-Password-1" })).StatusCode);
        }

        statuses.Take(3).ShouldAllBe(status => status == HttpStatusCode.Unauthorized);
        statuses.Skip(3).ShouldAllBe(status => status == HttpStatusCode.TooManyRequests);
        var limited = await client.PostAsJsonAsync("/api/v1/auth/login", new { username = "nobody", password = "Wrong-Password-1" });
        limited.Headers.RetryAfter.ShouldNotBeNull();
    }
}
