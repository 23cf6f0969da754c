using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

/// <summary>The service on a database of its own, plus a fake OpenID Connect provider on a loopback port, shared by the
/// sign-in, provider and account tests.</summary>
public sealed class IdentitySsoFixture : ApiFixture, IAsyncLifetime
{
    private FakeOidcProvider? _oidc;

    public FakeOidcProvider Oidc => _oidc ?? throw new InvalidOperationException("The fake provider is not started.");

    protected override string Purpose => "identitysso";

    async Task IAsyncLifetime.InitializeAsync()
    {
        _oidc = await FakeOidcProvider.StartAsync();
        await InitializeAsync();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (_oidc is not null)
        {
            await _oidc.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class IdentitySsoCollection : ICollectionFixture<IdentitySsoFixture>
{
    public const string Name = "identity-sso";
}

/// <summary>What a browser saw during one sign-in: the service's redirect to the provider, the provider's redirect
/// back, and the service's answer to the callback.</summary>
public sealed record SsoRun(HttpResponseMessage Start, Uri CallbackUri, HttpResponseMessage Callback);

/// <summary>Base of the SSO area's HTTP tests: a clean database and a reset fake provider per test, with helpers that
/// register providers and play the browser's part of a sign-in.</summary>
[Collection(IdentitySsoCollection.Name)]
public abstract class SsoTest(IdentitySsoFixture fixture) : ApiTest<IdentitySsoFixture>(fixture)
{
    // The browser's own client towards the provider: it follows nothing by itself.
    private static readonly HttpClient Browser = new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false });

    protected FakeOidcProvider Oidc => Fixture.Oidc;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Oidc.Reset();
    }

    /// <summary>The settings row that opens sign-up to everyone (SSO provisioning needs it).</summary>
    protected Task SetSettingAsync(string key, string json) =>
        Fixture.ExecuteAsync(
            "INSERT INTO identity.settings (key, value) VALUES (@Key, CAST(@Json AS jsonb)) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            new { Key = key, Json = json });

    protected Task AllowSignupAsync() => SetSettingAsync("auth.allowSignup", "true");

    /// <summary>Registers a provider pointing at the fake (an oidc provider by discovery unless overridden).</summary>
    protected async Task<Guid> CreateProviderAsync(Dictionary<string, object?>? overrides = null)
    {
        var (admin, _) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var body = ProviderBody(overrides);
        var response = await admin.PostAsJsonAsync("/api/v1/admin/auth-providers", body);
        return (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("provider").GetProperty("id").GetGuid();
    }

    protected Dictionary<string, object?> ProviderBody(Dictionary<string, object?>? overrides = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["name"] = "Corporate SSO",
            ["type"] = "oidc",
            ["clientId"] = FakeOidcProvider.ClientId,
            ["clientSecret"] = FakeOidcProvider.ClientSecret,
            ["issuerUrl"] = Oidc.Issuer,
            ["roleMapping"] = new Dictionary<string, string[]> { ["admin"] = ["platform-admins"], ["editor"] = ["developers"] },
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, object?>())
        {
            body[key] = value;
        }

        return body;
    }

    /// <summary>Plays the browser: GET <paramref name="startPath"/>, follow to the provider, come back to the callback
    /// with the cookies the start set.</summary>
    protected async Task<SsoRun> RunFlowAsync(string startPath, Func<string, string>? tamperCookies = null, HttpClient? client = null)
    {
        client ??= Client;
        var start = await client.GetAsync(startPath);
        start.StatusCode.ShouldBeOneOf(HttpStatusCode.Redirect, HttpStatusCode.TemporaryRedirect);
        var atProvider = await Browser.GetAsync(start.Headers.Location);
        atProvider.StatusCode.ShouldBe(HttpStatusCode.Redirect, await atProvider.Content.ReadAsStringAsync());
        var callbackUri = atProvider.Headers.Location!;
        using var callback = new HttpRequestMessage(HttpMethod.Get, callbackUri.PathAndQuery);
        var cookies = CookieHeader(start);
        cookies = tamperCookies?.Invoke(cookies) ?? cookies;
        if (cookies.Length > 0)
        {
            callback.Headers.Add("Cookie", cookies);
        }

        return new SsoRun(start, callbackUri, await client.SendAsync(callback));
    }

    protected Task<SsoRun> SignInAsync(Guid providerId) => RunFlowAsync($"/api/v1/auth/{providerId}/login");

    /// <summary>The <c>name=value</c> pairs a response sets, as a request's Cookie header.</summary>
    protected static string CookieHeader(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? string.Join("; ", values.Select(value => value.Split(';')[0]).Where(pair => !pair.EndsWith('=')))
            : string.Empty;

    protected static string? Cookie(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues("Set-Cookie", out var values)
            ? values.Select(value => value.Split(';')[0]).FirstOrDefault(pair => pair.StartsWith(name + "=", StringComparison.Ordinal))?[(name.Length + 1)..]
            : null;

    protected static Dictionary<string, string> Query(Uri uri) =>
        Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery(uri.Query).ToDictionary(pair => pair.Key, pair => pair.Value.ToString());

    protected static Dictionary<string, string> Query(string relative) => Query(new Uri(new Uri("http://localhost"), relative));

    protected static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement;
}
