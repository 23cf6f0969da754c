using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity.Accounts;

public sealed class RegisterTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    private const string Password = "Str0ng-Passw0rd!";

    [Fact]
    public async Task The_first_user_becomes_admin_without_a_code_and_an_invite_code_is_made()
    {
        var response = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "Founder@Example.Test", password = Password, name = "Founder" });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["token", "expires_at", "user"]);
        var user = body.GetProperty("user");
        user.PropertyNames().ShouldBe(["id", "username", "email", "name", "role", "avatarUrl", "createdAt", "authProvider"]);
        user.GetProperty("email").GetString().ShouldBe("founder@example.test");
        user.GetProperty("username").GetString().ShouldBe("founder");
        user.GetProperty("role").GetString().ShouldBe("admin");
        user.GetProperty("authProvider").GetString().ShouldBe("local");
        (await Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = 'delivery.inviteCode'"))!.ShouldMatch("^[0-9]{6}$");

        var client = Fixture.CreateClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.GetProperty("token").GetString());
        (await client.GetAsync("/api/v1/admin/auth-providers")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'first_user' FROM identity.audit_log WHERE action = 'auth.register'")).ShouldBe("true");
    }

    [Fact]
    public async Task Later_users_need_the_current_invite_code_while_sign_up_is_closed()
    {
        await RegisterAsync("first@example.test");
        var code = await Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = 'delivery.inviteCode'");

        var without = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "second@example.test", password = Password, name = "Second" });
        var wrong = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "second@example.test", password = Password, name = "Second", inviteCode = "000000x" });
        var right = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "second@example.test", password = Password, name = "Second", inviteCode = code });

        (await without.ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString().ShouldBe("Valid invite code required");
        await wrong.ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        (await right.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("user").GetProperty("role").GetString().ShouldBe("developer");
        (await Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = 'delivery.inviteCode'")).ShouldBe(code);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action = 'auth.register' AND result = 'denied'")).ShouldBe(2);
    }

    [Fact]
    public async Task The_code_is_replaced_after_a_sign_up_when_configured()
    {
        await RegisterAsync("first@example.test");
        await SetSettingAsync("delivery.regenerateInviteAfterSignup", "true");
        var code = await Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = 'delivery.inviteCode'");

        (await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "second@example.test", password = Password, name = "Second", inviteCode = code }))
            .StatusCode.ShouldBe(HttpStatusCode.Created);

        var next = await Fixture.ScalarAsync<string>("SELECT value #>> '{}' FROM identity.settings WHERE key = 'delivery.inviteCode'");
        next!.ShouldMatch("^[0-9]{6}$");
        next.ShouldNotBe(code);
        await (await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "third@example.test", password = Password, name = "Third", inviteCode = code }))
            .ShouldBeErrorAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Open_sign_up_needs_no_code_and_usernames_stay_unique()
    {
        await RegisterAsync("sam@one.example");
        await AllowSignupAsync();

        var response = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "sam@two.example", password = Password, name = "Sam Two" });

        (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("user").GetProperty("username").GetString().ShouldBe("sam-2");
    }

    [Fact]
    public async Task Refusals_are_403_for_switched_off_sign_in_and_foreign_domains()
    {
        await SetSettingAsync("auth.domainAllowlist", """["corp.example"]""");
        (await (await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "x@other.example", password = Password, name = "X" }))
            .ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString().ShouldBe("Your email domain is not authorized to register");

        await SetSettingAsync("auth.localLoginEnabled", "false");
        (await (await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "x@corp.example", password = Password, name = "X" }))
            .ShouldBeErrorAsync(HttpStatusCode.Forbidden)).GetProperty("message").GetString().ShouldBe("Registration is disabled");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.users")).ShouldBe(0);
    }

    [Fact]
    public async Task A_taken_email_is_409()
    {
        await RegisterAsync("taken@example.test");
        await AllowSignupAsync();

        var response = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "TAKEN@example.test", password = Password, name = "Again" });

        (await response.ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString().ShouldBe("User already exists");
    }

    [Theory]
    [InlineData(null, Password, "Name", "email")]
    [InlineData("not-an-email", Password, "Name", "email")]
    [InlineData("a@example.test", "password123", "Name", "password")]
    [InlineData("a@example.test", null, "Name", "password")]
    [InlineData("a@example.test", Password, "  ", "name")]
    public async Task Each_rule_is_a_400_naming_the_field(string? email, string? password, string? name, string field)
    {
        var response = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email, password, name });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task More_than_ten_attempts_a_minute_from_one_address_is_429()
    {
        await RegisterAsync("first@example.test");
        for (var i = 0; i < 9; i++)
        {
            await (await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = $"guess{i}@example.test", password = Password, name = "G", inviteCode = "000000x" }))
                .ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        }

        var limited = await Client.PostAsJsonAsync("/v1/api/auth/register", new { email = "late@example.test", password = Password, name = "L", inviteCode = "000000x" });

        await limited.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests);
        limited.Headers.RetryAfter.ShouldNotBeNull();
    }

    [Fact]
    public async Task The_password_never_reaches_the_audit_log_or_the_logs()
    {
        await RegisterAsync("quiet@example.test");

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE metadata::text LIKE '%' || @P || '%'", new { P = Password })).ShouldBe(0);
        Fixture.Logs.All.ShouldNotContain(Password);
    }

    private async Task RegisterAsync(string email) =>
        (await Client.PostAsJsonAsync("/v1/api/auth/register", new { email, password = Password, name = "Someone" })).StatusCode.ShouldBe(HttpStatusCode.Created);
}
