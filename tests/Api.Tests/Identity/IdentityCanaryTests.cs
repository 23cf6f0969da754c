using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

/// <summary>
/// The identity canary: after a password sign-in, a password change, an API key created and used, a WebSocket ticket
/// and a sign-out, no password, session token, JWT, API key or ticket appears in any audit row, log line or stored row,
/// nor in any answer other than the one that issued it. (Single sign-on has its own canary.)
/// </summary>
public sealed class IdentityCanaryTests(ApiFixture fixture) : ApiTest(fixture)
{
    private const string NewPassword = "Canary-New-Passw0rd";

    [Fact]
    public async Task No_credential_of_the_cycle_leaks()
    {
        var recorder = new ResponseRecorder();
        var client = Fixture.Factory.CreateDefaultClient(recorder);
        var user = await Fixture.CreateUserAsync(BaseRole.Operator);

        var login = await client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });
        var jwt = (await login.ShouldBeJsonAsync()).GetProperty("token").GetString()!;
        var cookie = login.Headers.GetValues("Set-Cookie").First(value => value.StartsWith("gyre_session=", StringComparison.Ordinal)).Split(';')[0]["gyre_session=".Length..];
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", jwt);

        (await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = user.Password, newPassword = NewPassword })).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await client.PostAsJsonAsync("/api/v1/auth/change-password", new { currentPassword = "Wrong-Passw0rd!", newPassword = "Another-Passw0rd1" })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        var keyResponse = await client.PostAsJsonAsync("/api/v1/api-keys", new { name = "canary" });
        var apiKey = (await keyResponse.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("key").GetString()!;
        var ticketResponse = await client.PostAsync("/api/v1/ws/ticket", null);
        var ticket = (await ticketResponse.ShouldBeJsonAsync()).GetProperty("ticket").GetString()!;

        using (var withKey = new HttpRequestMessage(HttpMethod.Get, "/api/v1/api-keys"))
        {
            withKey.Headers.Authorization = null;
            withKey.Headers.Add("X-Api-Key", apiKey);
            (await client.SendAsync(withKey)).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        (await client.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = "Typo-" + NewPassword })).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        (await client.PostAsync("/api/v1/auth/logout", null)).StatusCode.ShouldBe(HttpStatusCode.OK);

        var everywhere = new Dictionary<string, string>
        {
            ["old password"] = user.Password,
            ["new password"] = NewPassword,
            ["mistyped password"] = "Typo-" + NewPassword,
        };
        var shownOnce = new Dictionary<string, (string Value, HttpResponseMessage ShownBy)>
        {
            ["session JWT"] = (jwt, login),
            ["session cookie"] = (cookie, login),
            ["API key"] = (apiKey, keyResponse),
            ["ticket"] = (ticket, ticketResponse),
        };

        var audit = string.Join('\n', await Fixture.QueryAsync<string>("SELECT row_to_json(a)::text FROM identity.audit_log a"));
        var stored = await Fixture.StoredRowsAsTextAsync("identity", "platform");
        var logs = Fixture.Logs.All;
        var leaks = new List<string>();
        foreach (var (name, value) in everywhere.Select(pair => (pair.Key, pair.Value)).Concat(shownOnce.Select(pair => (pair.Key, pair.Value.Value))))
        {
            if (audit.Contains(value, StringComparison.Ordinal))
            {
                leaks.Add($"{name} in the audit log");
            }

            if (stored.Contains(value, StringComparison.Ordinal))
            {
                leaks.Add($"{name} stored in the database");
            }

            if (logs.Contains(value, StringComparison.Ordinal))
            {
                leaks.Add($"{name} in a log line");
            }

            var shownBy = shownOnce.TryGetValue(name, out var once) ? once.ShownBy : null;
            leaks.AddRange(recorder.Responses
                .Where(pair => pair.Response != shownBy && pair.Text.Contains(value, StringComparison.Ordinal))
                .Select(pair => $"{name} in the answer to {pair.Response.RequestMessage!.Method} {pair.Response.RequestMessage.RequestUri!.AbsolutePath}"));
        }

        audit.ShouldContain("auth.password_change");
        audit.ShouldContain("api_key.create");
        leaks.ShouldBeEmpty();
    }
}
