using System.Text.Json;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

/// <summary>Handler tests of identity administration (roles, assignments, settings, audit) on a database of their own.</summary>
public sealed class IdentityAdminHandlerFixture : ApiFixture
{
    protected override string Purpose => "identity_admin_handlers";
}

[CollectionDefinition(Name)]
public sealed class IdentityAdminHandlerCollection : ICollectionFixture<IdentityAdminHandlerFixture>
{
    public const string Name = "identity-admin-handlers";
}

[Collection(IdentityAdminHandlerCollection.Name)]
public abstract class IdentityAdminHandlerTest(IdentityAdminHandlerFixture fixture) : HandlerTest<IdentityAdminHandlerFixture>(fixture)
{
    /// <summary>The seeded system role <c>approver</c> (db/migrations/0002).</summary>
    protected static readonly Guid ApproverRoleId = Guid.Parse("00000000-0000-0000-0000-00000000a002");

    protected async Task<Guid> CreateRoleAsync(string name, params string[] permissions)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.roles (id, name, description, permissions) VALUES (@Id, @Name, '', @Permissions)",
            new { Id = id, Name = name, Permissions = permissions });
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

    protected async Task<Guid> InsertAuditAsync(DateTime occurredAt, string action = "thing.happen", string actorType = "system", Guid? actorId = null, string? resourceType = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.audit_log (id, occurred_at, actor_type, actor_id, action, resource_type, correlation_id)
            VALUES (@Id, @OccurredAt, @ActorType, @ActorId, @Action, @ResourceType, @CorrelationId)
            """,
            new { Id = id, OccurredAt = occurredAt, ActorType = actorType, ActorId = actorId, Action = action, ResourceType = resourceType, CorrelationId = Guid.CreateVersion7() });
        return id;
    }

    protected static JsonElement Json(string json) => JsonDocument.Parse(json).RootElement.Clone();
}
