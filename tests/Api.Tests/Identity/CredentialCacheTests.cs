using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Capstan.Api.Tests.Access;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Api.Tests.Identity;

/// <summary>
/// The credential caches (users' and agents') across two replicas sharing one database, both with the cache on (500 ms,
/// the default): a credential revoked on one replica, or in the database directly, is refused on both within one
/// second, and each replica answers repeated requests from its cache.
/// </summary>
public sealed class CredentialCacheTests : IAsyncLifetime
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(1);

    private ApiFactory _first = null!;
    private ApiFactory _second = null!;

    public async Task InitializeAsync()
    {
        var database = PostgresServer.CreateDatabase("credcache");
        // The access area's settings lift the per-agent heartbeat limit, which the polling below would reach.
        var settings = new Dictionary<string, string?>(AccessFixture.Settings) { ["Identity:CredentialCacheMilliseconds"] = "500" };
        _first = new ApiFactory(database, settings);
        _second = new ApiFactory(database, settings);
        await Task.WhenAll(_first.WaitUntilReadyAsync(), _second.WaitUntilReadyAsync());
        await Task.WhenAll(
            _first.Services.GetRequiredService<EventHub>().Listening,
            _second.Services.GetRequiredService<EventHub>().Listening);
    }

    public async Task DisposeAsync()
    {
        await _first.DisposeAsync();
        await _second.DisposeAsync();
    }

    [Fact]
    public async Task A_revoked_api_key_is_refused_on_both_replicas_within_one_second()
    {
        var user = await _first.CreateUserAsync(BaseRole.Developer);
        var key = await _first.CreateApiKeyAsync(user);
        using var first = Client(_first, key);
        using var second = Client(_second, key);
        (await first.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await second.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.OK);
        _second.Services.GetRequiredService<CredentialCheckCache>().Count.ShouldBeGreaterThan(0);

        var keyId = await ScalarAsync<Guid>("SELECT id FROM identity.api_keys WHERE user_id = @Id", new NpgsqlParameter("Id", user.Id));
        var revoked = Stopwatch.StartNew();
        (await first.DeleteAsync($"/api/v1/api-keys/{keyId}")).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await RefusedWithinAsync(second, revoked);
        await RefusedWithinAsync(first, revoked);
    }

    [Fact]
    public async Task A_signed_out_session_is_refused_on_the_other_replica_within_one_second()
    {
        var user = await _first.CreateUserAsync(BaseRole.Viewer);
        using var anonymous = _first.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });
        var login = await anonymous.PostAsJsonAsync("/api/v1/auth/login", new { username = user.Username, password = user.Password });
        login.StatusCode.ShouldBe(HttpStatusCode.OK);
        var token = JsonDocument.Parse(await login.Content.ReadAsStringAsync()).RootElement.GetProperty("token").GetString()!;
        using var first = Client(_first, token);
        using var second = Client(_second, token);
        (await second.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await second.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var signedOut = Stopwatch.StartNew();
        (await first.PostAsync("/api/v1/auth/logout", null)).IsSuccessStatusCode.ShouldBeTrue();

        await RefusedWithinAsync(second, signedOut);
        await RefusedWithinAsync(first, signedOut);
    }

    [Fact]
    public async Task A_user_deactivated_in_the_database_directly_is_refused_on_both_replicas_within_one_second()
    {
        var user = await _first.CreateUserAsync(BaseRole.Operator);
        var key = await _first.CreateApiKeyAsync(user);
        using var first = Client(_first, key);
        using var second = Client(_second, key);
        (await first.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.OK);
        (await second.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.OK);

        var deactivated = Stopwatch.StartNew();
        await ExecuteAsync("UPDATE identity.users SET active = false WHERE id = @Id", new NpgsqlParameter("Id", user.Id));

        await RefusedWithinAsync(first, deactivated);
        await RefusedWithinAsync(second, deactivated);
    }

    [Fact]
    public async Task The_database_trigger_evicts_before_the_lifetime_would()
    {
        // A replica whose entries would live a full second still refuses a revoked key at once: the trigger's hub event
        // drops the entry as the revocation commits.
        await using var slow = new ApiFactory(_first.ConnectionString, new Dictionary<string, string?> { ["Identity:CredentialCacheMilliseconds"] = "1000" });
        await slow.WaitUntilReadyAsync();
        await slow.Services.GetRequiredService<EventHub>().Listening;
        var user = await slow.CreateUserAsync(BaseRole.Viewer);
        var key = await slow.CreateApiKeyAsync(user);
        using var client = Client(slow, key);
        (await client.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.OK);
        var cache = slow.Services.GetRequiredService<CredentialCheckCache>();
        cache.Count.ShouldBe(1);

        await ExecuteAsync("UPDATE identity.api_keys SET revoked_at = now() WHERE user_id = @Id", new NpgsqlParameter("Id", user.Id));
        var evicted = Stopwatch.StartNew();
        while (cache.Count > 0 && evicted.Elapsed < TimeSpan.FromMilliseconds(900))
        {
            await Task.Delay(10);
        }

        cache.Count.ShouldBe(0);
        (await client.GetAsync("/v1/api/profile")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Accepted_credentials_are_reused_for_their_lifetime_and_refusals_are_not_cached()
    {
        var cache = new CredentialCheckCache(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["Identity:CredentialCacheMilliseconds"] = "200" }).Build());
        var caller = new TestUser(Guid.CreateVersion7(), "cached", "cached@example.test", "x", BaseRole.Viewer).AsCaller();
        var lookups = 0;
        Task<CredentialCheck> Accept(CancellationToken _)
        {
            lookups++;
            return Task.FromResult(new CredentialCheck(caller, null, SessionRefreshed: true));
        }

        var key = CredentialCheckCache.KeyOf("key", "secret");
        var firstCheck = await cache.GetOrLookupAsync(key, 0, (_, token) => Accept(token), CancellationToken.None);
        firstCheck.SessionRefreshed.ShouldBeTrue();
        var cached = await cache.GetOrLookupAsync(key, 0, (_, token) => Accept(token), CancellationToken.None);
        lookups.ShouldBe(1);
        cached.Caller.ShouldBe(caller);
        cached.SessionRefreshed.ShouldBeFalse();

        await Task.Delay(250);
        await cache.GetOrLookupAsync(key, 0, (_, token) => Accept(token), CancellationToken.None);
        lookups.ShouldBe(2);

        cache.Evict(caller.UserId);
        cache.Count.ShouldBe(0);

        var refusals = 0;
        for (var attempt = 0; attempt < 2; attempt++)
        {
            await cache.GetOrLookupAsync(CredentialCheckCache.KeyOf("key", "wrong"), 0, (_, _) =>
            {
                refusals++;
                return Task.FromResult(CredentialCheck.Refused("Invalid API key"));
            }, CancellationToken.None);
        }

        refusals.ShouldBe(2);
        cache.Count.ShouldBe(0);
    }

    [Fact]
    public async Task An_agent_revoked_on_one_replica_is_refused_on_both_within_one_second()
    {
        var (admin, id, secret) = await MintAgentAsync();
        using var first = AgentClient(_first, secret);
        using var second = AgentClient(_second, secret);
        (await first.PostAsync($"/api/v1/agents/{id}/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        (await second.PostAsync($"/api/v1/agents/{id}/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        _second.Services.GetRequiredService<AgentCredentials>().CachedCount.ShouldBe(1);

        var revoked = Stopwatch.StartNew();
        (await admin.PostAsync($"/api/v1/agents/{id}/revoke", null)).IsSuccessStatusCode.ShouldBeTrue();

        await RefusedWithinAsync(() => second.PostAsync($"/api/v1/agents/{id}/heartbeat", null), revoked);
        await RefusedWithinAsync(() => first.PostAsync($"/api/v1/agents/{id}/heartbeat", null), revoked);
    }

    [Fact]
    public async Task The_database_trigger_evicts_an_agent_revoked_by_sql_before_the_lifetime_would()
    {
        // A replica remembering secrets for a full second still refuses at once: the trigger's hub event drops the agent.
        await using var slow = new ApiFactory(_first.ConnectionString, new Dictionary<string, string?>(AccessFixture.Settings) { ["Identity:CredentialCacheMilliseconds"] = "1000" });
        await slow.WaitUntilReadyAsync();
        await slow.Services.GetRequiredService<EventHub>().Listening;
        var (_, id, secret) = await MintAgentAsync();
        using var client = AgentClient(slow, secret);
        (await client.PostAsync($"/api/v1/agents/{id}/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
        var credentials = slow.Services.GetRequiredService<AgentCredentials>();
        credentials.CachedCount.ShouldBe(1);

        // A heartbeat's own stamp (last_seen_at) evicts nothing; a revocation does.
        await ExecuteAsync("UPDATE access.agents SET last_seen_at = now() WHERE id = @Id", new NpgsqlParameter("Id", id));
        await Task.Delay(100);
        credentials.CachedCount.ShouldBe(1);
        await ExecuteAsync("UPDATE access.agents SET status = 'revoked', revoked_at = now() WHERE id = @Id", new NpgsqlParameter("Id", id));
        var evicted = Stopwatch.StartNew();
        while (credentials.CachedCount > 0 && evicted.Elapsed < TimeSpan.FromMilliseconds(900))
        {
            await Task.Delay(10);
        }

        credentials.CachedCount.ShouldBe(0);
        (await client.PostAsync($"/api/v1/agents/{id}/heartbeat", null)).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_wrong_secret_for_a_remembered_agent_is_still_refused()
    {
        var (_, id, secret) = await MintAgentAsync();
        using var agent = AgentClient(_first, secret);
        using var guesser = AgentClient(_first, secret[..^1] + (secret[^1] == 'A' ? 'B' : 'A'));
        (await agent.PostAsync($"/api/v1/agents/{id}/jobs/claim", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);

        await (await guesser.PostAsync($"/api/v1/agents/{id}/jobs/claim", null)).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await agent.PostAsync($"/api/v1/agents/{id}/jobs/claim", null)).StatusCode.ShouldBe(HttpStatusCode.NoContent);
    }

    private async Task<(HttpClient Admin, Guid Id, string Secret)> MintAgentAsync()
    {
        var user = await _first.CreateUserAsync(BaseRole.Admin);
        var admin = _first.CreateClient();
        admin.DefaultRequestHeaders.Authorization = new("Bearer", await _first.CreateApiKeyAsync(user));
        var body = await (await admin.PostAsJsonAsync("/api/v1/agents", new { name = $"agent-{Guid.NewGuid():N}"[..20] }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        return (admin, body.GetProperty("id").GetGuid(), body.GetProperty("agent_secret").GetString()!);
    }

    private static HttpClient AgentClient(ApiFactory factory, string secret)
    {
        var client = factory.CreateClient();
        client.DefaultRequestHeaders.Add(AgentAuthenticated.HeaderName, secret);
        return client;
    }

    private static HttpClient Client(ApiFactory factory, string bearer)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
        return client;
    }

    private static Task RefusedWithinAsync(HttpClient client, Stopwatch since) =>
        RefusedWithinAsync(() => client.GetAsync("/v1/api/profile"), since);

    private static async Task RefusedWithinAsync(Func<Task<HttpResponseMessage>> send, Stopwatch since)
    {
        HttpStatusCode status;
        do
        {
            status = (await send()).StatusCode;
            if (status == HttpStatusCode.Unauthorized)
            {
                return;
            }

            await Task.Delay(25);
        }
        while (since.Elapsed < Deadline);

        status.ShouldBe(HttpStatusCode.Unauthorized, $"still {status} {since.ElapsedMilliseconds} ms after the revocation");
    }

    private async Task ExecuteAsync(string sql, params NpgsqlParameter[] parameters)
    {
        await using var connection = new NpgsqlConnection(_first.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters);
        await command.ExecuteNonQueryAsync();
    }

    private async Task<T> ScalarAsync<T>(string sql, params NpgsqlParameter[] parameters)
    {
        await using var connection = new NpgsqlConnection(_first.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        command.Parameters.AddRange(parameters);
        return (T)(await command.ExecuteScalarAsync())!;
    }
}
