using System.Net.Http.Headers;
using Capstan.Infrastructure.Security;
using Dapper;
using MediatR;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Tests.Support;

public sealed record TestUser(Guid Id, string Username, string Email, string Password, BaseRole Role)
{
    /// <summary>The caller this user is when a handler test sends a request as them.</summary>
    public Caller AsCaller(AuthMethod method = AuthMethod.ApiKey) =>
        new(Id, Username, Email, Username, Role, method, null, null, PermissionCatalog.Of(Role), []);
}

/// <summary>Users and credentials for tests, written straight to the database (no sign-in round trip, no hashing
/// per user), so most tests call the API with an API key of the role they need.</summary>
public static class TestAccounts
{
    public const string Password = "Correct-Horse-9";

    private static readonly Lazy<string> PasswordHash = new(() => Passwords.Hash(Password));
    private static int _counter;

    public static Task<TestUser> CreateUserAsync(this ApiFixture fixture, BaseRole role = BaseRole.Viewer, string? username = null, bool active = true) =>
        fixture.Factory.CreateUserAsync(role, username, active);

    public static Task<string> CreateApiKeyAsync(this ApiFixture fixture, TestUser user, BaseRole? keyRole = null, DateTime? expiresAt = null) =>
        fixture.Factory.CreateApiKeyAsync(user, keyRole, expiresAt);

    /// <summary>A client authenticated as a new user of <paramref name="role"/>.</summary>
    public static Task<(HttpClient Client, TestUser User)> ClientAsAsync(this ApiFixture fixture, BaseRole role) => fixture.Factory.ClientAsAsync(role);

    /// <summary>A client authenticated as <paramref name="user"/> with a fresh API key.</summary>
    public static Task<HttpClient> ClientAsAsync(this ApiFixture fixture, TestUser user) => fixture.Factory.ClientAsAsync(user);

    public static async Task<TestUser> CreateUserAsync(this ApiFactory factory, BaseRole role = BaseRole.Viewer, string? username = null, bool active = true)
    {
        var name = username ?? $"{role.Name()}-{Interlocked.Increment(ref _counter)}";
        var user = new TestUser(Guid.CreateVersion7(), name, $"{name}@example.test", Password, role);
        await ExecuteAsync(
            factory,
            """
            INSERT INTO identity.users (id, username, email, name, password_hash, role, active)
            VALUES (@Id, @Username, @Email, @Name, @Hash, @Role, @Active)
            """,
            new { user.Id, user.Username, user.Email, Name = name, Hash = PasswordHash.Value, Role = role.Name(), Active = active });
        return user;
    }

    /// <summary>A new API key for <paramref name="user"/> (optionally limited to a lower role or expiring).</summary>
    public static async Task<string> CreateApiKeyAsync(this ApiFactory factory, TestUser user, BaseRole? keyRole = null, DateTime? expiresAt = null)
    {
        var key = SecretTokens.Generate("cap_");
        await ExecuteAsync(
            factory,
            """
            INSERT INTO identity.api_keys (id, user_id, name, key_hash, key_prefix, role, expires_at)
            VALUES (@Id, @UserId, 'test key', @Hash, @Prefix, @Role, @ExpiresAt)
            """,
            new { Id = Guid.CreateVersion7(), UserId = user.Id, Hash = SecretTokens.Hash(key), Prefix = key[..12], Role = keyRole?.Name(), ExpiresAt = expiresAt });
        return key;
    }

    public static async Task<(HttpClient Client, TestUser User)> ClientAsAsync(this ApiFactory factory, BaseRole role)
    {
        var user = await factory.CreateUserAsync(role);
        return (await factory.ClientAsAsync(user), user);
    }

    public static async Task<HttpClient> ClientAsAsync(this ApiFactory factory, TestUser user)
    {
        var client = factory.CreateClient(new WebApplicationFactoryClientOptions { AllowAutoRedirect = false, HandleCookies = false });
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await factory.CreateApiKeyAsync(user));
        return client;
    }

    private static async Task ExecuteAsync(ApiFactory factory, string sql, object parameters)
    {
        await using var connection = new NpgsqlConnection(factory.ConnectionString);
        await connection.ExecuteAsync(sql, parameters);
    }

    /// <summary>Sends a slice's request through the pipeline as <paramref name="user"/>.</summary>
    public static async Task<T> SendAsAsync<T>(this ApiFixture fixture, TestUser user, IRequest<T> request)
    {
        await using var scope = fixture.Services.CreateAsyncScope();
        var context = scope.ServiceProvider.GetRequiredService<RequestContext>();
        context.Caller = user.AsCaller();
        context.IpAddress = "203.0.113.7";
        context.RequestId = "handler-test";
        return await scope.ServiceProvider.GetRequiredService<IMediator>().Send(request);
    }
}
