using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>The access area's own service instance and database, with the GitOps integration switched on and the
/// per-user/per-agent limits lifted (the limits themselves are tested on a host of their own).</summary>
public sealed class AccessFixture : ApiFixture
{
    public static readonly Dictionary<string, string?> Settings = new()
    {
        ["Access:GitOps:Enabled"] = "true",
        ["Access:WrapRetrieveRateLimit:PermitPerMinute"] = "100000",
        ["Access:HeartbeatRateLimit:PermitPerMinute"] = "100000",
    };

    protected override string Purpose => "access";

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, Settings);
}

[CollectionDefinition(Name)]
public sealed class AccessCollection : ICollectionFixture<AccessFixture>
{
    public const string Name = "access";
}

/// <summary>Base of the access HTTP tests: clients per role, agents, and the request flows in a line each.</summary>
[Collection(AccessCollection.Name)]
public abstract class AccessTest(AccessFixture fixture) : ApiTest<AccessFixture>(fixture)
{
    public const string DefaultWorkflowId = "00000000-0000-0000-0000-0000000ac001";

    protected Task<(HttpClient Client, TestUser User)> AsAsync(BaseRole role) => Fixture.ClientAsAsync(role);

    protected async Task<TestAgent> MintAgentAsync(string? name = null, object? scope = null, bool withKey = false)
    {
        var (admin, _) = await AsAsync(BaseRole.Admin);
        var keys = withKey ? Capstan.Infrastructure.Crypto.WireSealing.GenerateKeyPair() : default;
        var response = await admin.PostAsJsonAsync("/api/v1/agents", new
        {
            name = name ?? $"agent-{Guid.NewGuid():N}"[..20],
            scope,
            public_key = withKey ? Convert.ToBase64String(keys.PublicKey) : null,
        });
        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        return new TestAgent(Fixture.CreateClient(), body.GetProperty("id").GetGuid(), body.GetProperty("agent_secret").GetString()!, keys.PrivateKey);
    }

    protected static async Task<JsonElement> SubmitPatchAsync(HttpClient client, IDictionary<string, string> values, object? project = null, string? environment = null, string secretRef = "prod/db")
    {
        var response = await client.PostAsJsonAsync("/api/v1/requests", new
        {
            project_id = project,
            environment,
            target_provider_type = "vault",
            target_provider_config = new { mount = "kv" },
            target_secret_ref = secretRef,
            key_values = values,
            justification = "rotate the database password",
        });
        return await response.ShouldBeJsonAsync(HttpStatusCode.Created);
    }

    protected static async Task<JsonElement> SubmitReadAsync(HttpClient client, string[]? keys = null, object? project = null, string? environment = null, string secretRef = "prod/db")
    {
        var response = await client.PostAsJsonAsync("/api/v1/requests/read", new
        {
            project_id = project,
            environment,
            target_provider_type = "vault",
            target_secret_ref = secretRef,
            target_keys = keys,
            justification = "debug the payment service",
        });
        return await response.ShouldBeJsonAsync(HttpStatusCode.Created);
    }

    protected static async Task<JsonElement> ApproveAsync(HttpClient approver, Guid requestId, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var response = await approver.PostAsJsonAsync($"/api/v1/requests/{requestId}/approve", new { comment = "ok" });
        return expected == HttpStatusCode.OK ? await response.ShouldBeJsonAsync() : await response.ShouldBeErrorAsync(expected);
    }

    protected async Task<Guid> CreateProjectAsync(string? name = null)
    {
        var (client, _) = await AsAsync(BaseRole.Viewer);
        var response = await client.PostAsJsonAsync("/api/v1/projects", new { name = name ?? $"project-{Guid.NewGuid():N}" });
        return (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
    }

    protected async Task<Guid> CreateEnvironmentAsync(Guid projectId, string name, string type = "dev")
    {
        var (client, _) = await AsAsync(BaseRole.Viewer);
        var response = await client.PostAsJsonAsync("/api/v1/environments", new { project_id = projectId, name, type });
        return (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
    }

    /// <summary>Gives <paramref name="user"/> a custom role holding <paramref name="permissions"/> within
    /// <paramref name="scope"/> (global when empty).</summary>
    protected async Task GrantAsync(TestUser user, object scope, params string[] permissions)
    {
        var roleId = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.roles (id, name, permissions) VALUES (@Id, @Name, @Permissions)",
            new { Id = roleId, Name = $"role-{roleId:N}", Permissions = permissions });
        await Fixture.ExecuteAsync(
            "INSERT INTO identity.user_roles (id, user_id, role_id, scope) VALUES (@Id, @UserId, @RoleId, CAST(@Scope AS jsonb))",
            new { Id = Guid.CreateVersion7(), UserId = user.Id, RoleId = roleId, Scope = JsonSerializer.Serialize(scope) });
    }

    protected Task<long> AuditCountAsync(string action, Guid? correlationId = null) =>
        Fixture.ScalarAsync<long>(
            "SELECT count(*) FROM identity.audit_log WHERE action = @Action AND (@CorrelationId::uuid IS NULL OR correlation_id = @CorrelationId)",
            new { Action = action, CorrelationId = correlationId });
}
