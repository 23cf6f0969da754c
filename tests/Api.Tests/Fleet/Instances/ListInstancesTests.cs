using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Instances;

public sealed class ListInstancesTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task Lists_newest_first_with_both_envelopes_and_paging_in_both_spellings()
    {
        for (var index = 1; index <= 3; index++)
        {
            await SeedInstanceAsync($"box-{index}");
        }

        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/instances?page=1&pageSize=2")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["instances", "data", "pagination"]);
        body.GetProperty("instances").EnumerateArray().Select(item => item.GetProperty("name").GetString()).ShouldBe(["box-3", "box-2"]);
        body.GetProperty("data").GetArrayLength().ShouldBe(2);
        var pagination = body.GetProperty("pagination");
        pagination.GetProperty("page").GetInt32().ShouldBe(1);
        pagination.GetProperty("limit").GetInt32().ShouldBe(2);
        pagination.GetProperty("pageSize").GetInt32().ShouldBe(2);
        pagination.GetProperty("total").GetInt64().ShouldBe(3);
        pagination.GetProperty("totalPages").GetInt32().ShouldBe(2);

        var second = await (await client.GetAsync("/api/v1/instances?page=2&limit=2")).ShouldBeJsonAsync();
        second.GetProperty("instances").EnumerateArray().Select(item => item.GetProperty("name").GetString()).ShouldBe(["box-1"]);
    }

    [Fact]
    public async Task Filters_by_status_provider_region_and_search_and_hides_destroyed_unless_asked()
    {
        await SeedInstanceAsync("web-1", status: "RUNNING", provider: "fly", region: "sea");
        await SeedInstanceAsync("web-2", status: "SUSPENDED", provider: "aws", region: "us-east-1");
        await SeedInstanceAsync("db-1", status: "ERROR", provider: "fly", region: "ams");
        await SeedInstanceAsync("old-1", status: "DESTROYED", provider: "fly", region: "sea");
        var client = await As(BaseRole.Viewer);

        async Task<string?[]> Names(string query) =>
            [.. (await (await client.GetAsync($"/api/v1/instances?{query}&sort=name&order=asc")).ShouldBeJsonAsync()).GetProperty("instances").EnumerateArray()
                .Select(item => item.GetProperty("name").GetString())];

        (await Names("provider=fly")).ShouldBe(["db-1", "web-1"]);
        (await Names("status=RUNNING,SUSPENDED")).ShouldBe(["web-1", "web-2"]);
        (await Names("region=us-east-1")).ShouldBe(["web-2"]);
        (await Names("search=web")).ShouldBe(["web-1", "web-2"]);
        (await Names("status=DESTROYED")).ShouldBe(["old-1"]);
        (await Names("includeDestroyed=true")).ShouldBe(["db-1", "old-1", "web-1", "web-2"]);
    }

    [Fact]
    public async Task Team_instances_are_visible_to_members_and_administrators_only()
    {
        var team = Guid.CreateVersion7();
        await SeedInstanceAsync("shared");
        await SeedInstanceAsync("team-only", teamId: team);
        var (outsider, _) = await Fixture.ClientAsAsync(BaseRole.Operator);
        var (member, memberUser) = await Fixture.ClientAsAsync(BaseRole.Viewer);
        await JoinTeamAsync(memberUser, team);
        var admin = await As(BaseRole.Admin);

        async Task<string?[]> Names(HttpClient client) =>
            [.. (await (await client.GetAsync("/api/v1/instances?sort=name&order=asc")).ShouldBeJsonAsync()).GetProperty("instances").EnumerateArray()
                .Select(item => item.GetProperty("name").GetString())];

        (await Names(outsider)).ShouldBe(["shared"]);
        (await Names(member)).ShouldBe(["shared", "team-only"]);
        (await Names(admin)).ShouldBe(["shared", "team-only"]);
    }

    [Theory]
    [InlineData("status=BROKEN", "status")]
    [InlineData("provider=mainframe", "provider")]
    [InlineData("distro=arch", "distro")]
    [InlineData("pageSize=101", "pageSize")]
    [InlineData("page=0", "page")]
    [InlineData("sort=secret", "sort")]
    public async Task Bad_filters_are_400(string query, string field)
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.GetAsync($"/api/v1/instances?{query}");

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }
}
