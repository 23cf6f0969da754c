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

    /// <summary>Writes one audit row as the trail would (inserts are all the table allows).</summary>
    protected async Task<Guid> InsertAuditAsync(AuditRow row)
    {
        var id = row.Id ?? Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.audit_log
                (id, occurred_at, actor_type, actor_id, actor_name, action, resource_type, resource_id, result, ip_address, correlation_id, team_id, metadata)
            VALUES
                (@Id, @OccurredAt, @ActorType, @ActorId, @ActorName, @Action, @ResourceType, @ResourceId, @Result, @IpAddress, @CorrelationId, @TeamId,
                 CAST(@Metadata AS jsonb))
            """,
            new
            {
                Id = id,
                OccurredAt = row.OccurredAt ?? DateTime.UtcNow,
                row.ActorType,
                row.ActorId,
                row.ActorName,
                row.Action,
                row.ResourceType,
                row.ResourceId,
                row.Result,
                row.IpAddress,
                CorrelationId = row.CorrelationId ?? Guid.CreateVersion7(),
                row.TeamId,
                Metadata = JsonSerializer.Serialize(row.Metadata ?? new { }),
            });
        return id;
    }

    protected static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    protected static Task<HttpResponseMessage> PutJsonAsync(HttpClient client, string path, object body) => client.PutAsJsonAsync(path, body);

    protected static Task<HttpResponseMessage> PatchJsonAsync(HttpClient client, string path, string json) =>
        client.PatchAsync(path, Json(json));
}

public sealed record AuditRow(string Action, string ActorType = "user", Guid? ActorId = null)
{
    public Guid? Id { get; init; }

    public DateTime? OccurredAt { get; init; }

    public string? ActorName { get; init; }

    public string? ResourceType { get; init; }

    public string? ResourceId { get; init; }

    public string Result { get; init; } = "success";

    public string? IpAddress { get; init; }

    public Guid? CorrelationId { get; init; }

    public Guid? TeamId { get; init; }

    public object? Metadata { get; init; }
}
