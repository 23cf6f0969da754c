using System.Net;
using System.Text;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Deployments;

public sealed class TemplateTests(FleetFixture fixture) : FleetTest(fixture)
{
    private static readonly string[] TemplateFields =
        ["id", "name", "slug", "category", "description", "yamlContent", "extensions", "providerRecommendations", "isOfficial", "createdBy", "createdAt", "updatedAt"];

    private static object Template(string slug, string category = "web", bool isOfficial = false) => new
    {
        name = $"Template {slug}",
        slug,
        category,
        description = "A starting point",
        yamlContent = "name: dev\nextensions:\n  active: [nodejs, docker]\n",
        providerRecommendations = new[] { "fly", "docker" },
        isOfficial,
    };

    [Fact]
    public async Task An_operator_creates_a_template_whose_extensions_come_from_its_yaml()
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostJsonAsync("/api/v1/templates", Template("node-stack", isOfficial: true));

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(TemplateFields);
        body.GetProperty("extensions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["nodejs", "docker"]);
        body.GetProperty("isOfficial").GetBoolean().ShouldBeFalse();
        var admin = await As(BaseRole.Admin);
        (await (await admin.PostJsonAsync("/api/v1/templates", Template("official-stack", isOfficial: true))).ShouldBeJsonAsync(HttpStatusCode.Created))
            .GetProperty("isOfficial").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task A_taken_slug_is_409()
    {
        var client = await As(BaseRole.Operator);
        await client.PostJsonAsync("/api/v1/templates", Template("dup"));

        (await (await client.PostJsonAsync("/api/v1/templates", Template("dup"))).ShouldBeErrorAsync(HttpStatusCode.Conflict)).GetProperty("message").GetString()
            .ShouldBe("Template with slug 'dup' already exists");
    }

    [Theory]
    [InlineData("{\"slug\":\"a\",\"category\":\"c\",\"yamlContent\":\"name: a\"}", "name")]
    [InlineData("{\"name\":\"n\",\"slug\":\"Not A Slug\",\"category\":\"c\",\"yamlContent\":\"name: a\"}", "slug")]
    [InlineData("{\"name\":\"n\",\"slug\":\"a\",\"yamlContent\":\"name: a\"}", "category")]
    [InlineData("{\"name\":\"n\",\"slug\":\"a\",\"category\":\"c\"}", "yamlContent")]
    [InlineData("{\"name\":\"n\",\"slug\":\"a\",\"category\":\"c\",\"yamlContent\":\"name: [\"}", "yamlContent")]
    [InlineData("{\"name\":\"n\",\"slug\":\"a\",\"category\":\"c\",\"yamlContent\":\"name: a\",\"providerRecommendations\":[\"mainframe\"]}", "providerRecommendations")]
    public async Task Bad_templates_are_400(string json, string field)
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsync("/api/v1/templates", new StringContent(json, Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Templates_are_listed_official_first_filtered_and_found_by_id_or_slug()
    {
        var admin = await As(BaseRole.Admin);
        var plain = (await (await admin.PostJsonAsync("/api/v1/templates", Template("plain", "data"))).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await admin.PostJsonAsync("/api/v1/templates", Template("blessed", "web", isOfficial: true));
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/templates")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["templates", "data", "pagination"]);
        body.GetProperty("templates").EnumerateArray().Select(item => item.GetProperty("slug").GetString()).ShouldBe(["blessed", "plain"]);
        (await (await client.GetAsync("/api/v1/templates?category=data")).ShouldBeJsonAsync()).GetProperty("templates").GetArrayLength().ShouldBe(1);
        (await (await client.GetAsync("/api/v1/templates?isOfficial=true")).ShouldBeJsonAsync()).GetProperty("templates")[0].GetProperty("slug").GetString().ShouldBe("blessed");
        (await (await client.GetAsync("/api/v1/templates?provider=docker&search=plain")).ShouldBeJsonAsync()).GetProperty("templates").GetArrayLength().ShouldBe(1);
        (await (await client.GetAsync($"/api/v1/templates/{plain}")).ShouldBeJsonAsync()).GetProperty("slug").GetString().ShouldBe("plain");
        (await (await client.GetAsync("/api/v1/templates/blessed")).ShouldBeJsonAsync()).PropertyNames().ShouldBe(TemplateFields);
        await (await client.GetAsync("/api/v1/templates/missing")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync("/api/v1/templates?pageSize=500")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task An_administrator_deletes_a_template()
    {
        var admin = await As(BaseRole.Admin);
        var id = (await (await admin.PostJsonAsync("/api/v1/templates", Template("temporary"))).ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();

        var body = await (await admin.DeleteAsync($"/api/v1/templates/{id}")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["message", "id", "slug"]);
        body.GetProperty("message").GetString().ShouldBe("Template deleted");
        await (await admin.DeleteAsync($"/api/v1/templates/{id}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await admin.DeleteAsync("/api/v1/templates/not-a-guid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }
}
