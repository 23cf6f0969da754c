using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Extensions;

public sealed class ExtensionRegistryTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] ExtensionFields =
    [
        "id", "name", "display_name", "description", "category", "version", "author", "license", "homepage_url", "icon_url", "tags", "dependencies",
        "scope", "is_official", "is_deprecated", "download_count", "install_count", "published_by", "created_at", "updated_at",
    ];

    private static async Task<Guid> CreateAsync(HttpClient client, string name, string category = "languages", string[]? dependencies = null, string[]? tags = null, bool official = false) =>
        (await (await client.PostJsonAsync("/api/v1/extensions", new
        {
            name,
            display_name = name.ToUpperInvariant(),
            description = $"The {name} toolchain",
            category,
            version = "1.2.3",
            tags = tags ?? [],
            dependencies = dependencies ?? [],
            is_official = official,
        })).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task An_operator_registers_an_extension()
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostJsonAsync("/api/v1/extensions", new
        {
            name = "nodejs",
            display_name = "Node.js",
            description = "JavaScript runtime",
            category = "languages",
            version = "20.1.0",
            author = "OpenJS",
            license = "MIT",
            homepage_url = "https://nodejs.org",
            tags = new[] { "js", "runtime" },
            dependencies = new[] { "mise" },
            scope = "internal",
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(ExtensionFields);
        body.GetProperty("scope").GetString().ShouldBe("INTERNAL");
        body.GetProperty("download_count").GetInt64().ShouldBe(0);
        body.GetProperty("install_count").GetInt64().ShouldBe(0);
        body.GetProperty("dependencies")[0].GetString().ShouldBe("mise");
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/extensions/{body.GetProperty("id").GetGuid()}");
    }

    [Fact]
    public async Task A_taken_name_is_409()
    {
        var client = await As(BaseRole.Operator);
        await CreateAsync(client, "python");

        var response = await client.PostJsonAsync("/api/v1/extensions", new { name = "python", display_name = "P", description = "d", category = "c", version = "1.0.0" });

        await response.ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("{\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\"}", "name")]
    [InlineData("{\"name\":\"Bad Name\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\"}", "name")]
    [InlineData("{\"name\":\"x\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\"}", "display_name")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"category\":\"c\",\"version\":\"1.0.0\"}", "description")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"version\":\"1.0.0\"}", "category")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"latest\"}", "version")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\",\"homepage_url\":\"not a url\"}", "homepage_url")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\",\"icon_url\":\"ftp://x/y.png\"}", "icon_url")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\",\"scope\":\"SECRET\"}", "scope")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\",\"dependencies\":[\"x\"]}", "dependencies")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\",\"dependencies\":[\"Not Valid\"]}", "dependencies")]
    [InlineData("{\"name\":\"x\",\"display_name\":\"X\",\"description\":\"d\",\"category\":\"c\",\"version\":\"1.0.0\",\"tags\":[\"\"]}", "tags")]
    public async Task Bad_extensions_are_400_naming_the_field(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync("/api/v1/extensions", Json(json));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task The_registry_lists_filters_and_pages()
    {
        var client = await As(BaseRole.Operator);
        await CreateAsync(client, "python", tags: ["ml"]);
        await CreateAsync(client, "rust");
        await CreateAsync(client, "docker", category: "infra", official: true);
        var viewer = await As(BaseRole.Viewer);

        var all = await (await viewer.GetAsync("/api/v1/extensions")).ShouldBeJsonAsync();
        all.PropertyNames().ShouldBe(["extensions", "data", "total", "page", "pageSize", "limit", "totalPages", "pagination"]);
        all.GetProperty("total").GetInt64().ShouldBe(3);
        all.GetProperty("extensions").EnumerateArray().Select(e => e.GetProperty("name").GetString()).ShouldBe(["docker", "python", "rust"]);

        var languages = await (await viewer.GetAsync("/api/v1/extensions?category=languages&pageSize=1&page=2")).ShouldBeJsonAsync();
        languages.GetProperty("total").GetInt64().ShouldBe(2);
        languages.GetProperty("totalPages").GetInt32().ShouldBe(2);
        languages.GetProperty("extensions").EnumerateArray().Single().GetProperty("name").GetString().ShouldBe("rust");

        (await (await viewer.GetAsync("/api/v1/extensions?search=ml")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/extensions?search=TOOLCHAIN")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(3);
        (await (await viewer.GetAsync("/api/v1/extensions?tags=ml,gpu")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/extensions?isOfficial=true")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        await (await viewer.GetAsync("/api/v1/extensions?scope=WORLD")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Categories_and_summary_count_the_registry_and_installs()
    {
        var client = await As(BaseRole.Operator);
        var python = await CreateAsync(client, "python");
        await CreateAsync(client, "rust");
        await CreateAsync(client, "docker", category: "infra");
        var box = await SeedInstanceAsync("box");
        await (await client.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = box, version = "3.12.0", action = "install" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        var viewer = await As(BaseRole.Viewer);

        var categories = await (await viewer.GetAsync("/api/v1/extensions/categories")).ShouldBeJsonAsync();
        categories.GetProperty("categories").EnumerateArray().Select(c => $"{c.GetProperty("category").GetString()}:{c.GetProperty("count").GetInt64()}")
            .ShouldBe(["languages:2", "infra:1"]);

        var summary = await (await viewer.GetAsync("/api/v1/extensions/summary")).ShouldBeJsonAsync();
        summary.PropertyNames().ShouldBe(["top_extensions", "instances_with_extensions", "total_extensions", "deprecated_extensions", "active_installs"]);
        summary.GetProperty("instances_with_extensions").GetInt64().ShouldBe(1);
        summary.GetProperty("total_extensions").GetInt64().ShouldBe(3);
        var top = summary.GetProperty("top_extensions")[0];
        top.PropertyNames().ShouldBe(["id", "name", "display_name", "category", "download_count", "active_installs"]);
        top.GetProperty("name").GetString().ShouldBe("python");
        top.GetProperty("download_count").GetInt64().ShouldBe(1);
    }

    [Fact]
    public async Task Detail_shows_active_installs_and_policies()
    {
        var client = await As(BaseRole.Operator);
        var python = await CreateAsync(client, "python");
        var box = await SeedInstanceAsync("box");
        await client.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = box, version = "3.12.0", action = "install" });
        await (await client.PostJsonAsync("/api/v1/extensions/policies", new { extension_id = python, policy = "FREEZE" })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var viewer = await As(BaseRole.Viewer);

        var detail = await (await viewer.GetAsync($"/api/v1/extensions/{python}")).ShouldBeJsonAsync();

        detail.PropertyNames().ShouldBe([.. ExtensionFields, "usages", "policies"]);
        detail.GetProperty("install_count").GetInt64().ShouldBe(1);
        var usage = detail.GetProperty("usages").EnumerateArray().Single();
        usage.PropertyNames().ShouldBe(["instance_id", "instance_name", "version", "installed_at"]);
        usage.GetProperty("instance_name").GetString().ShouldBe("box");
        detail.GetProperty("policies")[0].GetProperty("policy").GetString().ShouldBe("FREEZE");
        await (await viewer.GetAsync($"/api/v1/extensions/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.GetAsync("/api/v1/extensions/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task An_operator_updates_and_an_admin_deletes()
    {
        var operatorClient = await As(BaseRole.Operator);
        var id = await CreateAsync(operatorClient, "python");

        var updated = await (await operatorClient.PutAsync($"/api/v1/extensions/{id}", Json("{\"version\":\"2.0.0\",\"is_deprecated\":true,\"tags\":[\"old\"]}")))
            .ShouldBeJsonAsync();
        updated.GetProperty("version").GetString().ShouldBe("2.0.0");
        updated.GetProperty("is_deprecated").GetBoolean().ShouldBeTrue();
        updated.GetProperty("display_name").GetString().ShouldBe("PYTHON");
        (await (await operatorClient.PutAsync($"/api/v1/extensions/{id}", Json("{\"version\":\"two\"}"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("version", out _).ShouldBeTrue();
        await (await operatorClient.PutAsync($"/api/v1/extensions/{id}", Json("{\"dependencies\":[\"python\"]}"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await operatorClient.PutAsync($"/api/v1/extensions/{Guid.CreateVersion7()}", Json("{}"))).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await operatorClient.DeleteAsync($"/api/v1/extensions/{id}")).ShouldBeErrorAsync(HttpStatusCode.Forbidden);

        var admin = await As(BaseRole.Admin);
        var deleted = await (await admin.DeleteAsync($"/api/v1/extensions/{id}")).ShouldBeJsonAsync();
        deleted.PropertyNames().ShouldBe(["deleted", "id", "name"]);
        deleted.GetProperty("deleted").GetBoolean().ShouldBeTrue();
        await (await admin.DeleteAsync($"/api/v1/extensions/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await Fixture.ScalarAsync<string>("SELECT action FROM identity.audit_log WHERE action = 'extension.delete'")).ShouldBe("extension.delete");
    }

    [Fact]
    public async Task Analytics_count_installs_failures_and_the_trend()
    {
        var client = await As(BaseRole.Operator);
        var python = await CreateAsync(client, "python");
        var a = await SeedInstanceAsync("a");
        var b = await SeedInstanceAsync("b");
        var c = await SeedInstanceAsync("c");
        await client.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = a, version = "1.0.0", action = "install", install_duration_ms = 1000 });
        await client.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = b, version = "1.0.0", action = "install", install_duration_ms = 3000 });
        await client.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = c, version = "1.0.0", action = "install", failed = true, error = "disk full", install_duration_ms = 99 });
        await (await client.PostJsonAsync("/api/v1/extensions/usage", new { extension_id = python, instance_id = b, action = "remove" })).ShouldBeJsonAsync(HttpStatusCode.OK);

        var analytics = await (await client.GetAsync($"/api/v1/extensions/{python}/analytics")).ShouldBeJsonAsync();

        // 3 attempts, 1 failed → 33.33 %; a is still installed; average of the successful durations (1000, 3000) = 2000.
        analytics.PropertyNames().ShouldBe(["extension_id", "total_installs", "active_installs", "failed_installs", "failure_rate_pct", "avg_install_time_ms", "install_trend"]);
        analytics.GetProperty("total_installs").GetInt64().ShouldBe(3);
        analytics.GetProperty("active_installs").GetInt64().ShouldBe(1);
        analytics.GetProperty("failed_installs").GetInt64().ShouldBe(1);
        analytics.GetProperty("failure_rate_pct").GetDouble().ShouldBe(33.33);
        analytics.GetProperty("avg_install_time_ms").GetDouble().ShouldBe(2000);
        var trend = analytics.GetProperty("install_trend");
        trend.GetArrayLength().ShouldBe(30);
        var today = trend[29];
        today.GetProperty("date").GetString().ShouldBe(DateTime.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture));
        today.GetProperty("installs").GetInt64().ShouldBe(2);
        today.GetProperty("failures").GetInt64().ShouldBe(1);
        (await Fixture.ScalarAsync<long>("SELECT download_count FROM fleet.extensions WHERE id = @Id", new { Id = python })).ShouldBe(2);
        await (await client.GetAsync($"/api/v1/extensions/{Guid.CreateVersion7()}/analytics")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Dependencies_resolve_over_http_and_a_cycle_is_400()
    {
        var client = await As(BaseRole.Operator);
        var app = await CreateAsync(client, "app", dependencies: ["lib"]);
        var lib = await CreateAsync(client, "lib", dependencies: ["base"]);
        await CreateAsync(client, "base");

        var graph = await (await client.GetAsync($"/api/v1/extensions/{app}/dependencies")).ShouldBeJsonAsync();
        graph.PropertyNames().ShouldBe(["extension_id", "name", "dependencies", "missing", "graph"]);
        graph.GetProperty("dependencies").EnumerateArray().Select(d => d.GetString()).ShouldBe(["base", "lib"]);
        graph.GetProperty("graph").GetProperty("nodes")[0].PropertyNames().ShouldBe(["name", "id", "version", "registered", "depth"]);

        await client.PutAsync($"/api/v1/extensions/{lib}", Json("{\"dependencies\":[\"app\"]}"));
        var error = await (await client.GetAsync($"/api/v1/extensions/{app}/dependencies")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        error.GetProperty("details").GetProperty("dependencies")[0].GetString().ShouldBe("Dependency cycle: app -> lib -> app");
        await (await client.GetAsync($"/api/v1/extensions/{Guid.CreateVersion7()}/dependencies")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }
}
