using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Extensions;

public sealed class ExtensionUsageAndPolicyTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] PolicyFields =
        ["id", "extension_id", "team_id", "instance_id", "scope", "policy", "pinned_version", "created_by", "created_at", "updated_at", "extension"];

    private async Task<Guid> ExtensionAsync(string name)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.extensions (id, name, display_name, description, category, version) VALUES (@Id, @Name, @Name, 'd', 'dev', '1.0.0')",
            new { Id = id, Name = name });
        return id;
    }

    [Fact]
    public async Task A_viewer_records_installs_and_removals()
    {
        var viewer = await As(BaseRole.Viewer);
        var python = await ExtensionAsync("python");
        var box = await SeedInstanceAsync("box");

        var installed = await (await viewer.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = box, version = "3.12.0", action = "install", install_duration_ms = 1200 }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        installed.PropertyNames().ShouldBe(["recorded", "usage"]);
        installed.GetProperty("usage").PropertyNames().ShouldBe(["id", "extension_id", "instance_id", "version", "installed_at", "removed_at", "install_duration_ms", "failed", "error"]);

        var reinstalled = await (await viewer.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = box, version = "3.13.0", action = "install" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.extension_usages WHERE removed_at IS NULL")).ShouldBe(1);

        var removed = await (await viewer.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = box, action = "remove" })).ShouldBeJsonAsync();
        removed.GetProperty("usage").GetProperty("id").GetGuid().ShouldBe(reinstalled.GetProperty("usage").GetProperty("id").GetGuid());
        removed.GetProperty("usage").GetProperty("removed_at").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.String);

        var nothing = await (await viewer.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = box, action = "remove" })).ShouldBeJsonAsync();
        nothing.GetProperty("usage").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
    }

    [Theory]
    [InlineData("{\"instance_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"version\":\"1.0.0\",\"action\":\"install\"}", "extension_id")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"version\":\"1.0.0\",\"action\":\"install\"}", "instance_id")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"instance_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"version\":\"1.0.0\",\"action\":\"upgrade\"}", "action")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"instance_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"action\":\"install\"}", "version")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"instance_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"version\":\"1.0.0\",\"action\":\"install\",\"install_duration_ms\":-1}", "install_duration_ms")]
    public async Task Bad_usage_records_are_400(string json, string field)
    {
        var viewer = await As(BaseRole.Viewer);

        var response = await viewer.PostAsync("/api/v1/extensions/usage", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Usage_for_unknown_or_unseen_targets_is_404()
    {
        var python = await ExtensionAsync("python");
        var hidden = await SeedInstanceAsync("hidden", teamId: Guid.CreateVersion7());
        var viewer = await As(BaseRole.Viewer);

        await (await viewer.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = Guid.CreateVersion7(), instance_id = hidden, version = "1.0.0", action = "install" }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = hidden, version = "1.0.0", action = "install" }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_matrix_shows_active_installs_on_visible_instances()
    {
        var python = await ExtensionAsync("python");
        var rust = await ExtensionAsync("rust");
        var a = await SeedInstanceAsync("a");
        var b = await SeedInstanceAsync("b");
        var hidden = await SeedInstanceAsync("hidden", teamId: Guid.CreateVersion7());
        var admin = await As(BaseRole.Admin);
        foreach (var (extension, instance) in new[] { (python, a), (rust, a), (python, b), (python, hidden) })
        {
            await admin.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = extension, instance_id = instance, version = "1.0.0", action = "install" });
        }

        await admin.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = b, action = "remove" });
        var viewer = await As(BaseRole.Viewer);

        var matrix = await (await viewer.GetAsync("/api/v1/extensions/usage/matrix")).ShouldBeJsonAsync();
        matrix.PropertyNames().ShouldBe(["matrix", "extensions", "instance_ids"]);
        matrix.GetProperty("instance_ids").EnumerateArray().Select(id => id.GetGuid()).ShouldBe([a]);
        var cell = matrix.GetProperty("matrix").GetProperty(a.ToString()).GetProperty(rust.ToString());
        cell.PropertyNames().ShouldBe(["installed", "version", "failed", "installed_at"]);
        matrix.GetProperty("extensions").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ShouldBe(["python", "rust"]);

        var narrowed = await (await viewer.GetAsync($"/api/v1/extensions/usage/matrix?extensionIds={rust}")).ShouldBeJsonAsync();
        narrowed.GetProperty("extensions").GetArrayLength().ShouldBe(1);
        await (await viewer.GetAsync("/api/v1/extensions/usage/matrix?instanceIds=nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Policies_are_set_listed_resolved_and_deleted()
    {
        var python = await ExtensionAsync("python");
        var box = await SeedInstanceAsync("box");
        var operatorClient = await As(BaseRole.Operator);

        var global = await (await operatorClient.PostJsonAsync("/api/v1/extensions/policies", new { extension_id = python, policy = "AUTO_UPDATE" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        global.PropertyNames().ShouldBe(PolicyFields);
        global.GetProperty("scope").GetString().ShouldBe("global");
        global.GetProperty("extension").PropertyNames().ShouldBe(["id", "name", "display_name", "version"]);
        var again = await (await operatorClient.PostJsonAsync("/api/v1/extensions/policies", new { extension_id = python, policy = "freeze" })).ShouldBeJsonAsync();
        again.GetProperty("id").GetGuid().ShouldBe(global.GetProperty("id").GetGuid());
        var pinned = await (await operatorClient.PostJsonAsync("/api/v1/extensions/policies", new { extension_id = python, instance_id = box, policy = "PIN", pinned_version = "3.11.0" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        var viewer = await As(BaseRole.Viewer);
        var list = await (await viewer.GetAsync("/api/v1/extensions/policies")).ShouldBeJsonAsync();
        list.GetProperty("policies").EnumerateArray().Select(p => p.GetProperty("scope").GetString()).ShouldBe(["global", "instance"]);
        (await (await viewer.GetAsync("/api/v1/extensions/policies?instanceId=")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(1);
        (await (await viewer.GetAsync($"/api/v1/extensions/policies?instanceId={box}")).ShouldBeJsonAsync()).GetProperty("total").GetInt32().ShouldBe(1);
        await (await viewer.GetAsync("/api/v1/extensions/policies?extensionId=x")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var effective = await (await viewer.GetAsync($"/api/v1/extensions/policies/effective/{box}")).ShouldBeJsonAsync();
        effective.PropertyNames().ShouldBe(["instance_id", "team_id", "policies"]);
        var entry = effective.GetProperty("policies").GetProperty(python.ToString());
        entry.PropertyNames().ShouldBe(["extension_name", "policy", "pinned_version", "source", "policy_id"]);
        entry.GetProperty("pinned_version").GetString().ShouldBe("3.11.0");
        await (await viewer.GetAsync($"/api/v1/extensions/policies/effective/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);

        var pinnedId = pinned.GetProperty("id").GetGuid();
        (await (await operatorClient.DeleteAsync($"/api/v1/extensions/policies/{pinnedId}")).ShouldBeJsonAsync()).PropertyNames().ShouldBe(["deleted", "id"]);
        await (await operatorClient.DeleteAsync($"/api/v1/extensions/policies/{pinnedId}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        var fallback = await (await viewer.GetAsync($"/api/v1/extensions/policies/effective/{box}")).ShouldBeJsonAsync();
        fallback.GetProperty("policies").GetProperty(python.ToString()).GetProperty("policy").GetString().ShouldBe("FREEZE");
    }

    [Theory]
    [InlineData("{\"policy\":\"PIN\",\"pinned_version\":\"1.0.0\"}", "extension_id")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"policy\":\"SOMETIMES\"}", "policy")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"policy\":\"PIN\"}", "pinned_version")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"policy\":\"PIN\",\"pinned_version\":\"latest\"}", "pinned_version")]
    [InlineData("{\"extension_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"policy\":\"FREEZE\",\"instance_id\":\"0195a0d0-0000-7000-8000-000000000001\",\"team_id\":\"0195a0d0-0000-7000-8000-000000000002\"}", "team_id")]
    public async Task Bad_policies_are_400(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync("/api/v1/extensions/policies", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Policies_for_unknown_targets_are_404()
    {
        var python = await ExtensionAsync("python");
        var client = await As(BaseRole.Operator);

        await (await client.PostJsonAsync("/api/v1/extensions/policies", new { extension_id = Guid.CreateVersion7(), policy = "FREEZE" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostJsonAsync("/api/v1/extensions/policies", new { extension_id = python, instance_id = Guid.CreateVersion7(), policy = "FREEZE" }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostJsonAsync("/api/v1/extensions/policies", new { extension_id = python, team_id = Guid.CreateVersion7(), policy = "FREEZE" }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
