using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

/// <summary>Change-password, logout, WebSocket tickets and the version route.</summary>
public sealed class AccountTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Change_password_keeps_other_sessions_and_clears_the_change_flag()
    {
        var user = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync("UPDATE identity.users SET requires_password_change = true WHERE id = @Id", new { user.Id });
        var first = await SignInAsync(user.Username, user.Password);
        var second = await SignInAsync(user.Username, user.Password);

        var response = await first.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = user.Password, newPassword = "Changed-Passw0rd" });

        var body = await response.ShouldBeJsonAsync();
        body.GetProperty("success").GetBoolean().ShouldBeTrue();
        body.GetProperty("message").GetString().ShouldBe("Password changed successfully");
        (await second.GetAsync("/api/v1/version")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await Fixture.ScalarAsync<bool>("SELECT requires_password_change FROM identity.users WHERE id = @Id", new { user.Id })).ShouldBeFalse();
        (await Client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = "Changed-Passw0rd" })).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Change_password_refuses_wrong_current_same_weak_and_recent_passwords()
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var wrong = await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = "Not-The-Pass1", newPassword = "Changed-Passw0rd" });
        (await wrong.ShouldBeErrorAsync(HttpStatusCode.Unauthorized)).GetProperty("message").GetString().ShouldBe("Current password is incorrect");
        (await Fixture.ScalarAsync<string>("SELECT result FROM identity.audit_log WHERE action = 'auth.password_change'")).ShouldBe("denied");

        await (await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = user.Password, newPassword = user.Password })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        (await (await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = user.Password, newPassword = "short" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("newPassword", out _).ShouldBeTrue();
        await (await client.PostAsJsonAsync("/api/v1/auth/change-password", new { newPassword = "Changed-Passw0rd" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var current = user.Password;
        foreach (var next in new[] { "History-Pass1", "History-Pass2", "History-Pass3" })
        {
            (await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = current, newPassword = next })).StatusCode.ShouldBe(HttpStatusCode.OK);
            current = next;
        }

        var reused = await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = current, newPassword = user.Password });
        (await reused.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe("New password cannot be the same as a recently used password");
    }

    [Fact]
    public async Task Change_password_for_sso_accounts_is_403()
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await Fixture.ExecuteAsync("UPDATE identity.users SET password_hash = NULL, auth_provider = 'oidc' WHERE id = @Id", new { user.Id });

        var response = await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = user.Password, newPassword = "Changed-Passw0rd" });

        (await response.ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString().ShouldBe("This account is managed via SSO and has no local password.");
    }

    [Fact]
    public async Task Anonymous_callers_get_401_on_account_routes()
    {
        await (await Client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = "a", newPassword = "b" })).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.PostAsync("/api/v1/auth/logout", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.PostAsync("/api/v1/ws/ticket", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync("/api/v1/version")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Logout_all_ends_every_session_of_the_user()
    {
        var user = await Fixture.CreateUserAsync();
        var first = await SignInAsync(user.Username, user.Password);
        var second = await SignInAsync(user.Username, user.Password);

        var body = await (await first.PostAsJsonAsync("/api/v1/auth/logout", new { all = true })).ShouldBeJsonAsync();

        body.GetProperty("sessionsEnded").GetInt32().ShouldBe(2);
        await (await second.GetAsync("/api/v1/version")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await first.PostAsync("/api/v1/auth/logout", new StringContent("{bad", System.Text.Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Logout_with_a_malformed_body_is_400()
    {
        var user = await Fixture.CreateUserAsync();
        var client = await SignInAsync(user.Username, user.Password);

        await (await client.PostAsync("/api/v1/auth/logout", new StringContent("{bad", System.Text.Encoding.UTF8, "application/json"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_websocket_ticket_is_64_hex_valid_30_seconds_and_stored_hashed()
    {
        var (client, user) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var body = await (await client.PostAsync("/api/v1/ws/ticket", null)).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["ticket", "expires_in"]);
        body.GetProperty("ticket").GetString()!.ShouldMatch("^[0-9a-f]{64}$");
        body.GetProperty("expires_in").GetInt32().ShouldBe(30);
        (await Fixture.ScalarAsync<double>("SELECT extract(epoch FROM expires_at - created_at) FROM identity.ws_tickets WHERE user_id = @Id", new { user.Id })).ShouldBe(30);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.ws_tickets WHERE ticket_hash = @Hash", new { Hash = SecretTokens.Hash(body.GetProperty("ticket").GetString()!) })).ShouldBe(1);
    }

    [Fact]
    public async Task Version_reports_the_api_and_no_cli_when_none_is_installed()
    {
        var (client, _) = await Fixture.ClientAsAsync(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/version")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["console_api", "sindri_cli", "cli_target", "cli_commit", "cli_build_date", "min_instance_version", "cli_available"]);
        body.GetProperty("console_api").GetString().ShouldNotBeNullOrEmpty();
        body.GetProperty("cli_available").GetBoolean().ShouldBeFalse();
        body.GetProperty("sindri_cli").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
    }

    private async Task<HttpClient> SignInAsync(string username, string password)
    {
        var response = await Client.PostAsJsonAsync("/api/v1/auth/login", new { username, password });
        var client = Fixture.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", (await response.ShouldBeJsonAsync()).GetProperty("token").GetString());
        return client;
    }
}

/// <summary>The version route with a stand-in Sindri CLI on a host of its own.</summary>
public sealed class VersionWithCliTests
{
    [Fact]
    public async Task Version_reads_the_cli_and_derives_the_minimum_instance_version()
    {
        var script = Path.Combine(Path.GetTempPath(), $"sindri-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(script, "#!/bin/sh\necho '{\"version\":\"3.4.2\",\"target\":\"x86_64-unknown-linux-gnu\",\"commit\":\"abc123\",\"build_date\":\"2026-10-01\"}'\n");
        File.SetUnixFileMode(script, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        try
        {
            await using var factory = new ApiFactory(PostgresServer.CreateDatabase("version"), new Dictionary<string, string?> { ["Sindri:CliPath"] = script });
            await factory.WaitUntilReadyAsync();
            var (client, _) = await factory.ClientAsAsync(BaseRole.Viewer);

            var body = await (await client.GetAsync("/api/v1/version")).ShouldBeJsonAsync();

            body.GetProperty("sindri_cli").GetString().ShouldBe("3.4.2");
            body.GetProperty("cli_target").GetString().ShouldBe("x86_64-unknown-linux-gnu");
            body.GetProperty("cli_commit").GetString().ShouldBe("abc123");
            body.GetProperty("cli_build_date").GetString().ShouldBe("2026-10-01");
            body.GetProperty("min_instance_version").GetString().ShouldBe("3.4.0");
            body.GetProperty("cli_available").GetBoolean().ShouldBeTrue();
        }
        finally
        {
            File.Delete(script);
        }
    }
}
