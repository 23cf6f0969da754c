using System.Net.Http.Headers;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

/// <summary>
/// The canary for single sign-on: after a full cycle (password sign-in of an admin, provider created, SSO sign-in with
/// seed 000's session flow and seed 002's code flow, code exchange, token refresh), the client secret, the provider's
/// tokens, the exchange code, every session token and the admin's password appear in no audit row, no log line and no
/// stored row, and in no response other than the one made to show it.
/// </summary>
public sealed class SsoCanaryTests(IdentitySsoFixture fixture) : SsoTest(fixture)
{
    [Fact]
    public async Task No_secret_of_the_cycle_leaks()
    {
        var recorder = new ResponseRecorder();
        var client = Fixture.Factory.CreateDefaultClient(recorder);
        await AllowSignupAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        // 1. The admin signs in with a password and registers the provider with its client secret.
        var login = await client.PostAsJsonAsync("/api/v1/auth/login", new { username = admin.Username, password = admin.Password });
        var adminJwt = (await login.ShouldBeJsonAsync()).GetProperty("token").GetString()!;
        var adminCookie = Cookie(login, SessionCookies.SessionName)!;
        using (var create = new HttpRequestMessage(HttpMethod.Post, "/api/v1/admin/auth-providers") { Content = JsonContent.Create(ProviderBody(new() { ["name"] = "corp" })) })
        {
            create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminJwt);
            await (await client.SendAsync(create)).ShouldBeJsonAsync(System.Net.HttpStatusCode.Created);
        }

        using (var list = new HttpRequestMessage(HttpMethod.Get, "/api/v1/admin/auth-providers"))
        {
            list.Headers.Authorization = new AuthenticationHeaderValue("Bearer", adminJwt);
            await (await client.SendAsync(list)).ShouldBeJsonAsync();
        }

        // 2. Seed 000: single sign-on ending in a cookie session.
        var sessionFlow = await RunFlowAsync($"/api/v1/auth/{await ProviderIdAsync()}/login", client: client);
        var ssoCookie = Cookie(sessionFlow.Callback, SessionCookies.SessionName)!;
        ssoCookie.ShouldNotBeNullOrEmpty();

        // 3. Seed 002: single sign-on ending in a one-time code, traded for a token, which is refreshed.
        var codeFlow = await RunFlowAsync("/v1/api/auth/oauth/corp/authorize", client: client);
        var code = Query(codeFlow.Callback.Headers.Location!.ToString())["code"];
        var exchange = await client.PostAsJsonAsync("/v1/api/auth/oauth/exchange", new { code });
        var exchangedJwt = (await exchange.ShouldBeJsonAsync()).GetProperty("token").GetString()!;
        using var refreshRequest = new HttpRequestMessage(HttpMethod.Post, "/v1/api/auth/refresh");
        refreshRequest.Headers.Authorization = new AuthenticationHeaderValue("Bearer", exchangedJwt);
        var refresh = await client.SendAsync(refreshRequest);
        var refreshedJwt = (await refresh.ShouldBeJsonAsync()).GetProperty("token").GetString()!;
        using var profile = new HttpRequestMessage(HttpMethod.Get, "/v1/api/profile");
        profile.Headers.Authorization = new AuthenticationHeaderValue("Bearer", refreshedJwt);
        await (await client.SendAsync(profile)).ShouldBeJsonAsync();

        Oidc.IssuedTokens.Count.ShouldBe(4);
        var everywhere = new Dictionary<string, string>
        {
            ["client secret"] = FakeOidcProvider.ClientSecret,
            ["admin password"] = admin.Password,
        };
        foreach (var (token, index) in Oidc.IssuedTokens.Select((token, index) => (token, index)))
        {
            everywhere[$"provider token {index}"] = token;
        }

        var shownOnce = new Dictionary<string, (string Value, HttpResponseMessage ShownBy)>
        {
            ["admin session JWT"] = (adminJwt, login),
            ["admin session cookie"] = (adminCookie, login),
            ["SSO session cookie"] = (ssoCookie, sessionFlow.Callback),
            ["exchange code"] = (code, codeFlow.Callback),
            ["exchanged JWT"] = (exchangedJwt, exchange),
            ["refreshed JWT"] = (refreshedJwt, refresh),
        };

        var auditRows = string.Join('\n', await Fixture.QueryAsync<string>("SELECT row_to_json(a)::text FROM identity.audit_log a"));
        auditRows.ShouldNotBeEmpty();
        var storedRows = await Fixture.StoredRowsAsTextAsync("identity", "platform");
        var logs = Fixture.Logs.All;
        var leaks = new List<string>();
        foreach (var (name, value) in everywhere.Select(pair => (pair.Key, pair.Value)).Concat(shownOnce.Select(pair => (pair.Key, pair.Value.Value))))
        {
            if (auditRows.Contains(value, StringComparison.Ordinal))
            {
                leaks.Add($"{name} in the audit log");
            }

            if (logs.Contains(value, StringComparison.Ordinal))
            {
                leaks.Add($"{name} in a log line");
            }

            if (storedRows.Contains(value, StringComparison.Ordinal))
            {
                leaks.Add($"{name} stored in the database");
            }

            var shownBy = shownOnce.TryGetValue(name, out var once) ? once.ShownBy : null;
            foreach (var (response, text) in recorder.Responses.Where(pair => pair.Response != shownBy && pair.Text.Contains(value, StringComparison.Ordinal)))
            {
                leaks.Add($"{name} in the answer to {response.RequestMessage!.Method} {response.RequestMessage.RequestUri!.AbsolutePath}");
            }
        }

        leaks.ShouldBeEmpty();
        recorder.Responses.Count.ShouldBe(10);
        foreach (var (name, (value, shownBy)) in shownOnce)
        {
            recorder.Responses.Single(pair => pair.Response == shownBy).Text.ShouldContain(value, customMessage: name);
        }
    }

    private async Task<Guid> ProviderIdAsync() => await Fixture.ScalarAsync<Guid>("SELECT id FROM identity.auth_providers WHERE name = 'corp'");
}
