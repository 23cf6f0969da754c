using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Sso;

public sealed class CompleteSsoLoginTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task A_first_sign_in_provisions_the_user_starts_a_session_and_goes_home()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();
        Oidc.User = new FakeOidcUser("sub-42", "Alice.Example", "Alice@Example.Test", "Alice Example", ["developers"], "https://img.example.test/alice.png");

        var run = await SignInAsync(id);

        run.Callback.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        run.Callback.Headers.Location!.ToString().ShouldBe("/");
        Oidc.TokenRequestErrors.ShouldBeEmpty();
        Oidc.TokenRequests.ShouldBe(1);
        var user = (await Fixture.QueryAsync<(Guid Id, string Username, string Email, string Name, string Role, string AuthProvider, string? PasswordHash, string AvatarUrl)>(
            "SELECT id, username, email, name, role, auth_provider, password_hash, avatar_url FROM identity.users WHERE auth_provider <> 'local'")).ShouldHaveSingleItem();
        user.Username.ShouldBe("alice.example");
        user.Email.ShouldBe("alice@example.test");
        user.Name.ShouldBe("Alice Example");
        user.Role.ShouldBe("operator");
        user.AuthProvider.ShouldBe("oidc");
        user.PasswordHash.ShouldBeNull();
        user.AvatarUrl.ShouldBe("https://img.example.test/alice.png");
        (await Fixture.ScalarAsync<string>("SELECT subject FROM identity.external_accounts WHERE provider_id = @Id", new { Id = id })).ShouldBe("sub-42");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.oauth_states")).ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.flux_bindings WHERE user_id = @Id", new { user.Id })).ShouldBe(2);

        // The session cookie signs the browser in; the state cookie is cleared.
        var session = Cookie(run.Callback, SessionCookies.SessionName);
        session.ShouldNotBeNullOrEmpty();
        run.Callback.Headers.GetValues("Set-Cookie").ShouldContain(cookie => cookie.StartsWith(SsoFlow.StateCookieName(id) + "=;", StringComparison.Ordinal));
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/api/profile");
        request.Headers.Add("Cookie", $"{SessionCookies.SessionName}={session}");
        (await (await Client.SendAsync(request)).ShouldBeJsonAsync()).GetProperty("user").GetProperty("username").GetString().ShouldBe("alice.example");

        var audit = await Fixture.QueryAsync<(string Action, string Result)>("SELECT action, result FROM identity.audit_log WHERE action LIKE 'auth.sso%' OR action = 'user.provision' ORDER BY occurred_at");
        audit.ShouldBe([("auth.sso_start", "success"), ("user.provision", "success"), ("auth.sso_login", "success")], ignoreOrder: true);
    }

    [Fact]
    public async Task The_next_sign_in_finds_the_same_user_and_follows_the_provider()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();
        await SignInAsync(id);
        var first = Cookie((await SignInAsync(id)).Callback, SessionCookies.SessionName);

        Oidc.User = FakeOidcProvider.DefaultUser with { Name = "Alice Renamed", Email = "alice@new.example.test", Groups = ["platform-admins"] };
        var run = await SignInAsync(id);

        run.Callback.Headers.Location!.ToString().ShouldBe("/");
        var user = (await Fixture.QueryAsync<(string Name, string Email, string Role)>("SELECT name, email, role FROM identity.users WHERE auth_provider <> 'local'")).ShouldHaveSingleItem();
        user.ShouldBe(("Alice Renamed", "alice@new.example.test", "admin"));
        // The role changed, so the sessions issued under the old role ended; the new one lives.
        using var old = new HttpRequestMessage(HttpMethod.Get, "/v1/api/profile");
        old.Headers.Add("Cookie", $"{SessionCookies.SessionName}={first}");
        (await Client.SendAsync(old)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions WHERE revoked_at IS NULL")).ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'user.role_sync'")).ShouldBe(1);
    }

    [Theory]
    [InlineData(new[] { "platform-admins", "developers" }, null, "admin")]
    [InlineData(new[] { "developers" }, null, "operator")]
    [InlineData(new[] { "strangers" }, "viewer", "viewer")]
    [InlineData(new string[0], "developer", "developer")]
    [InlineData(new[] { "strangers" }, "admin", "operator")]
    public async Task The_role_follows_the_mapping_then_the_clamped_default(string[] groups, string? defaultRole, string expected)
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync(defaultRole is null ? null : new() { ["defaultRole"] = defaultRole });
        Oidc.User = FakeOidcProvider.DefaultUser with { Groups = groups };

        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/");

        (await Fixture.ScalarAsync<string>("SELECT role FROM identity.users WHERE auth_provider <> 'local'")).ShouldBe(expected);
    }

    [Fact]
    public async Task A_taken_username_gets_the_subject_as_suffix()
    {
        await AllowSignupAsync();
        await Fixture.CreateUserAsync(BaseRole.Viewer, "alice");
        var id = await CreateProviderAsync();
        Oidc.User = FakeOidcProvider.DefaultUser with { Email = "alice@elsewhere.example.test" };

        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/");

        (await Fixture.ScalarAsync<string>("SELECT username FROM identity.users WHERE auth_provider = 'oidc'")).ShouldBe("alice_subject");
    }

    [Fact]
    public async Task A_github_provider_signs_in_from_the_profile_endpoint()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync(new()
        {
            ["type"] = "oauth2-github",
            ["issuerUrl"] = null,
            ["scopes"] = "read:user",
            ["authorizationUrl"] = $"{Oidc.Issuer}/authorize",
            ["tokenUrl"] = $"{Oidc.Issuer}/token",
            ["userInfoUrl"] = $"{Oidc.Issuer}/userinfo",
            ["usernameClaim"] = "login",
        });
        Oidc.GitHubProfile = true;
        Oidc.Fault = IdTokenFault.Missing;
        Oidc.User = new FakeOidcUser("12345", "octocat", "octo@example.test", "The Octocat", null, "https://avatars.example.test/u/12345");

        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/");

        (await Fixture.QueryAsync<(string Username, string AuthProvider, string AvatarUrl)>("SELECT username, auth_provider, avatar_url FROM identity.users WHERE auth_provider <> 'local'"))
            .ShouldHaveSingleItem().ShouldBe(("octocat", "github", "https://avatars.example.test/u/12345"));
        (await Fixture.ScalarAsync<string>("SELECT subject FROM identity.external_accounts")).ShouldBe("12345");
    }

    [Fact]
    public async Task Closed_sign_up_sends_the_browser_to_login_with_signup_disabled()
    {
        var id = await CreateProviderAsync();

        var run = await SignInAsync(id);

        run.Callback.StatusCode.ShouldBe(HttpStatusCode.Redirect);
        run.Callback.Headers.Location!.ToString().ShouldBe("/login?error=signup_disabled");
        Cookie(run.Callback, SessionCookies.SessionName).ShouldBeNull();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users WHERE auth_provider <> 'local'")).ShouldBe(0);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'error_kind' FROM identity.audit_log WHERE action = 'auth.sso_login' AND result = 'denied'")).ShouldBe("signup_disabled");
    }

    [Fact]
    public async Task Provisioning_off_and_foreign_domains_are_refused()
    {
        await AllowSignupAsync();
        var noProvisioning = await CreateProviderAsync(new() { ["autoProvision"] = false });
        (await SignInAsync(noProvisioning)).Callback.Headers.Location!.ToString().ShouldBe("/login?error=auto_provision_disabled");

        await SetSettingAsync("auth.domainAllowlist", """["corp.example"]""");
        var open = await CreateProviderAsync(new() { ["name"] = "Open" });
        (await SignInAsync(open)).Callback.Headers.Location!.ToString().ShouldBe("/login?error=domain_not_allowed");

        Oidc.User = FakeOidcProvider.DefaultUser with { Email = "alice@corp.example" };
        (await SignInAsync(open)).Callback.Headers.Location!.ToString().ShouldBe("/");
    }

    [Fact]
    public async Task Deactivated_users_and_emails_held_by_others_are_refused()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();
        await SignInAsync(id);
        await Fixture.ExecuteAsync("UPDATE identity.users SET active = false");
        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/login?error=user_disabled");

        var local = await Fixture.CreateUserAsync(BaseRole.Viewer, "bob");
        Oidc.User = new FakeOidcUser("sub-bob", "bobby", local.Email);
        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/login?error=email_in_use");
    }

    [Theory]
    [InlineData(IdTokenFault.WrongNonce)]
    [InlineData(IdTokenFault.WrongAudience)]
    [InlineData(IdTokenFault.WrongIssuer)]
    [InlineData(IdTokenFault.Expired)]
    [InlineData(IdTokenFault.ForeignKey)]
    [InlineData(IdTokenFault.Unsigned)]
    [InlineData(IdTokenFault.Missing)]
    public async Task A_bad_id_token_is_refused(IdTokenFault fault)
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();
        Oidc.Fault = fault;

        var run = await SignInAsync(id);

        run.Callback.Headers.Location!.ToString().ShouldBe("/login?error=invalid_id_token");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users WHERE auth_provider <> 'local'")).ShouldBe(0);
    }

    [Fact]
    public async Task Provider_refusals_and_outages_end_on_the_login_page()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();

        Oidc.AuthorizeError = "access_denied";
        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/login?error=access_denied");

        Oidc.AuthorizeError = null;
        Oidc.TokenEndpointFailure = HttpStatusCode.InternalServerError;
        (await SignInAsync(id)).Callback.Headers.Location!.ToString().ShouldBe("/login?error=token_exchange_failed");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.sessions")).ShouldBe(0);
    }

    [Fact]
    public async Task Missing_or_mismatched_state_is_400()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();

        var withoutCookie = await RunFlowAsync($"/api/v1/auth/{id}/login", _ => string.Empty);
        (await withoutCookie.Callback.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe("Invalid state parameter (possible CSRF attack)");

        var otherCookie = await RunFlowAsync($"/api/v1/auth/{id}/login", _ => $"{SsoFlow.StateCookieName(id)}=someone-elses-state");
        await otherCookie.Callback.ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        (await (await Client.GetAsync($"/api/v1/auth/{id}/callback?code=abc")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("message").GetString().ShouldBe("Missing code or state parameter");
        Oidc.TokenRequests.ShouldBe(0);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users WHERE auth_provider <> 'local'")).ShouldBe(0);
    }

    [Fact]
    public async Task A_state_works_once_and_for_ten_minutes()
    {
        await AllowSignupAsync();
        var id = await CreateProviderAsync();
        var run = await SignInAsync(id);
        run.Callback.Headers.Location!.ToString().ShouldBe("/");

        using var replay = new HttpRequestMessage(HttpMethod.Get, run.CallbackUri.PathAndQuery);
        replay.Headers.Add("Cookie", CookieHeader(run.Start));
        await (await Client.SendAsync(replay)).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var expired = await RunFlowAsync($"/api/v1/auth/{id}/login", cookies =>
        {
            Fixture.ExecuteAsync("UPDATE identity.oauth_states SET expires_at = now() - interval '1 second'").GetAwaiter().GetResult();
            return cookies;
        });
        await expired.Callback.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        Oidc.TokenRequests.ShouldBe(1);
    }

    [Fact]
    public async Task More_than_ten_callbacks_a_minute_from_one_address_go_to_login_rate_limited()
    {
        var id = await CreateProviderAsync();
        for (var i = 0; i < 10; i++)
        {
            (await Client.GetAsync($"/api/v1/auth/{id}/callback?error=access_denied")).StatusCode.ShouldBe(HttpStatusCode.Redirect);
        }

        var limited = await Client.GetAsync($"/api/v1/auth/{id}/callback?error=access_denied");

        limited.Headers.Location!.ToString().ShouldBe("/login?error=rate_limited");
    }
}
