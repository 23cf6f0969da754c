using System.Net;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Vault;

public sealed class VaultSecretTests(FleetFixture fixture) : FleetTest(fixture)
{
    private const string Canary = "vault-canary-7f3a9c1e-value";

    private static readonly string[] SecretFields =
        ["id", "source", "name", "description", "type", "instanceId", "scope", "version", "expiresAt", "isExpired", "daysUntilExpiry", "createdBy", "createdAt", "updatedAt", "lastRotatedAt"];

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    private static async Task<JsonElement> CreateAsync(HttpClient client, string name, string value = Canary, Guid? instanceId = null) =>
        await (await client.PostJsonAsync("/api/v1/secrets", new { name, value, instanceId, description = "for deploys", scope = new[] { "deployment" } }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

    private async Task<Guid> DiscoveredAsync()
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO access.discovered_secrets (id, cluster_name, provider_type, secret_ref) VALUES (@Id, 'prod', 'kubernetes', 'default/db')", new { Id = id });
        return id;
    }

    [Fact]
    public async Task An_operator_stores_a_secret_whose_value_never_leaves_encrypted_storage()
    {
        var client = await As(BaseRole.Operator);
        var box = await SeedInstanceAsync("box");

        var response = await client.PostJsonAsync("/api/v1/secrets", new
        {
            name = "DATABASE_URL",
            value = Canary,
            type = "api_key",
            instanceId = box,
            scope = new[] { "deployment", "runtime" },
            expiresAt = DateTime.UtcNow.AddDays(10).AddHours(1),
        });

        var text = await response.Content.ReadAsStringAsync();
        text.ShouldNotContain(Canary);
        var secret = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        secret.PropertyNames().ShouldBe(SecretFields);
        secret.GetProperty("source").GetString().ShouldBe("vault");
        secret.GetProperty("type").GetString().ShouldBe("API_KEY");
        secret.GetProperty("version").GetInt64().ShouldBe(1);
        secret.GetProperty("isExpired").GetBoolean().ShouldBeFalse();
        secret.GetProperty("daysUntilExpiry").GetInt64().ShouldBe(11);
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/secrets/{secret.GetProperty("id").GetGuid()}");

        (await Fixture.StoredRowsAsTextAsync("fleet", "identity", "access")).ShouldNotContain(Canary);
        (await Fixture.StoredRowsAsTextAsync("fleet")).ShouldNotContain(Convert.ToHexString(Encoding.UTF8.GetBytes(Canary)).ToLowerInvariant());
        Fixture.Logs.All.ShouldNotContain(Canary);
    }

    [Fact]
    public async Task Names_are_unique_per_instance_and_fleet_wide()
    {
        var client = await As(BaseRole.Operator);
        var box = await SeedInstanceAsync("box");
        await CreateAsync(client, "TOKEN");
        await CreateAsync(client, "TOKEN", instanceId: box);

        await (await client.PostJsonAsync("/api/v1/secrets", new { name = "TOKEN", value = "x" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await client.PostJsonAsync("/api/v1/secrets", new { name = "TOKEN", value = "x", instanceId = box })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("{\"value\":\"v\"}", "name")]
    [InlineData("{\"name\":\"has space\",\"value\":\"v\"}", "name")]
    [InlineData("{\"name\":\"N\"}", "value")]
    [InlineData("{\"name\":\"N\",\"value\":\"\"}", "value")]
    [InlineData("{\"name\":\"N\",\"value\":\"v\",\"type\":\"PASSWORD\"}", "type")]
    [InlineData("{\"name\":\"N\",\"value\":\"v\",\"scope\":[\"\"]}", "scope")]
    [InlineData("{\"name\":\"N\",\"value\":\"v\",\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\"}", "instanceId")]
    public async Task Bad_secrets_are_400_naming_the_field(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync("/api/v1/secrets", Json(json));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task The_shared_list_and_detail_show_vault_metadata_beside_discovered_secrets()
    {
        var client = await As(BaseRole.Operator);
        var box = await SeedInstanceAsync("box");
        var created = await CreateAsync(client, "API_TOKEN", instanceId: box);
        var id = created.GetProperty("id").GetGuid();
        await DiscoveredAsync();
        var viewer = await As(BaseRole.Viewer);

        var list = await (await viewer.GetAsync("/api/v1/secrets")).ShouldBeJsonAsync();
        list.GetProperty("total").GetInt64().ShouldBe(2);
        var vault = list.GetProperty("items").EnumerateArray().Single(item => item.GetProperty("source").GetString() == "vault");
        vault.GetProperty("name").GetString().ShouldBe("API_TOKEN");
        vault.GetProperty("provider_type").GetString().ShouldBe("vault");
        vault.GetProperty("labels").GetProperty("instance_id").GetString().ShouldBe(box.ToString());
        vault.GetProperty("version").GetString().ShouldBe("1");
        (await (await viewer.GetAsync("/api/v1/secrets?source=vault")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync($"/api/v1/secrets?instanceId={box}")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/secrets?type=env_var")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/secrets?type=FILE")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
        await (await viewer.GetAsync("/api/v1/secrets?instanceId=box")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var detail = await (await viewer.GetAsync($"/api/v1/secrets/{id}")).ShouldBeJsonAsync();
        detail.GetProperty("source").GetString().ShouldBe("vault");
        detail.GetRawText().ShouldNotContain(Canary);
    }

    [Fact]
    public async Task Updates_change_metadata_and_a_new_value_is_a_rotation()
    {
        var client = await As(BaseRole.Operator);
        var id = (await CreateAsync(client, "TOKEN")).GetProperty("id").GetGuid();

        var described = await (await client.PutAsync($"/api/v1/secrets/{id}", Json("{\"description\":\"renamed\",\"type\":\"file\"}"))).ShouldBeJsonAsync();
        described.PropertyNames().ShouldBe(SecretFields);
        described.GetProperty("description").GetString().ShouldBe("renamed");
        described.GetProperty("type").GetString().ShouldBe("FILE");
        described.GetProperty("version").GetInt64().ShouldBe(1);
        described.GetProperty("lastRotatedAt").ValueKind.ShouldBe(JsonValueKind.Null);

        var revalued = await (await client.PutAsync($"/api/v1/secrets/{id}", Json("{\"value\":\"second\"}"))).ShouldBeJsonAsync();
        revalued.GetProperty("version").GetInt64().ShouldBe(2);
        revalued.GetProperty("lastRotatedAt").ValueKind.ShouldBe(JsonValueKind.String);

        (await (await client.PutAsync($"/api/v1/secrets/{id}", Json("{\"type\":\"SECRET\"}"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("type", out _).ShouldBeTrue();
        await (await client.PutAsync($"/api/v1/secrets/{id}", Json("{\"value\":\"\"}"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.PutAsync($"/api/v1/secrets/{Guid.CreateVersion7()}", Json("{}"))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PutAsync($"/api/v1/secrets/{await DiscoveredAsync()}", Json("{}"))).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Rotation_replaces_the_value_and_an_admin_reveals_it_with_an_audit_row()
    {
        var operatorClient = await As(BaseRole.Operator);
        var id = (await CreateAsync(operatorClient, "TOKEN")).GetProperty("id").GetGuid();

        var rotated = await (await operatorClient.PostJsonAsync($"/api/v1/secrets/{id}/rotate", new { value = "rotated-value-42" })).ShouldBeJsonAsync();
        rotated.PropertyNames().ShouldBe(SecretFields);
        rotated.GetProperty("version").GetInt64().ShouldBe(2);
        rotated.GetProperty("lastRotatedAt").ValueKind.ShouldBe(JsonValueKind.String);
        await (await operatorClient.PostJsonAsync($"/api/v1/secrets/{id}/rotate", new { value = "" })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await operatorClient.PostJsonAsync($"/api/v1/secrets/{Guid.CreateVersion7()}/rotate", new { value = "x" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await operatorClient.GetAsync($"/api/v1/secrets/{id}/value")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);

        var admin = await As(BaseRole.Admin);
        var response = await admin.GetAsync($"/api/v1/secrets/{id}/value");
        var revealed = await response.ShouldBeJsonAsync();
        revealed.PropertyNames().ShouldBe(["id", "name", "value", "version"]);
        revealed.GetProperty("value").GetString().ShouldBe("rotated-value-42");
        response.Headers.CacheControl!.NoStore.ShouldBeTrue();

        var audit = await Fixture.QueryAsync<(string Action, string Metadata)>(
            "SELECT action, metadata::text FROM identity.audit_log WHERE resource_id = @Id ORDER BY occurred_at", new { Id = id.ToString() });
        audit.Select(row => row.Action).ShouldBe(["vault.secret.create", "vault.secret.rotate", "vault.secret.reveal"]);
        string.Concat(audit.Select(row => row.Metadata)).ShouldNotContain("rotated-value-42");
        Fixture.Logs.All.ShouldNotContain("rotated-value-42");

        await (await admin.GetAsync($"/api/v1/secrets/{Guid.CreateVersion7()}/value")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.GetAsync($"/api/v1/secrets/{await DiscoveredAsync()}/value")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await operatorClient.PostJsonAsync($"/api/v1/secrets/{await DiscoveredAsync2()}/rotate", new { value = "x" })).ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task Deleting_removes_a_vault_secret_but_not_a_discovered_one()
    {
        var client = await As(BaseRole.Operator);
        var id = (await CreateAsync(client, "TOKEN")).GetProperty("id").GetGuid();

        var deleted = await (await client.DeleteAsync($"/api/v1/secrets/{id}")).ShouldBeJsonAsync();
        deleted.PropertyNames().ShouldBe(["message", "id", "name"]);
        deleted.GetProperty("message").GetString().ShouldBe("Secret deleted");
        await (await client.DeleteAsync($"/api/v1/secrets/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.DeleteAsync($"/api/v1/secrets/{await DiscoveredAsync()}")).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await client.DeleteAsync("/api/v1/secrets/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    private async Task<Guid> DiscoveredAsync2()
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO access.discovered_secrets (id, cluster_name, provider_type, secret_ref) VALUES (@Id, 'prod', 'kubernetes', 'default/other')", new { Id = id });
        return id;
    }
}
