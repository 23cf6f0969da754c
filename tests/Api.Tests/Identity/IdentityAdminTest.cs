using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

/// <summary>The identity administration tests (roles, assignments, settings, audit) share one service and database of
/// their own, beside the other areas.</summary>
public sealed class IdentityAdminFixture : ApiFixture
{
    protected override string Purpose => "identity_admin";
}

[CollectionDefinition(Name)]
public sealed class IdentityAdminCollection : ICollectionFixture<IdentityAdminFixture>
{
    public const string Name = "identity-admin";
}

[Collection(IdentityAdminCollection.Name)]
public abstract class IdentityAdminTest(IdentityAdminFixture fixture) : ApiTest<IdentityAdminFixture>(fixture)
{
    /// <summary>The seeded system role <c>approver</c> (db/migrations/0002).</summary>
    protected static readonly Guid ApproverRoleId = Guid.Parse("00000000-0000-0000-0000-00000000a002");

    protected async Task<HttpClient> ClientAsync(BaseRole role) => (await Fixture.ClientAsAsync(role)).Client;

    protected Task<Guid> CreateRoleAsync(string name, params string[] permissions) => InsertRoleAsync(name, permissions);

    protected async Task<Guid> InsertRoleAsync(string name, string[] permissions, bool isSystem = false)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.roles (id, name, description, permissions, is_system) VALUES (@Id, @Name, '', @Permissions, @IsSystem)",
            new { Id = id, Name = name, Permissions = permissions, IsSystem = isSystem });
        return id;
    }

    protected async Task<Guid> AssignAsync(Guid userId, Guid roleId, object? scope = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.user_roles (id, user_id, role_id, scope) VALUES (@Id, @UserId, @RoleId, CAST(@Scope AS jsonb))",
            new { Id = id, UserId = userId, RoleId = roleId, Scope = JsonSerializer.Serialize(scope ?? new { }) });
        return id;
    }

    protected static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    protected static Task<HttpResponseMessage> PutJsonAsync(HttpClient client, string path, object body) => client.PutAsJsonAsync(path, body);

    protected static Task<HttpResponseMessage> PatchJsonAsync(HttpClient client, string path, string json) =>
        client.PatchAsync(path, Json(json));
}
