using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Instances;

public sealed class GetInstanceTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task Shows_the_instance_with_its_last_heartbeat_and_available_actions()
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "detail-box");
        (await client.PostJsonAsync($"/api/v1/instances/{id}/heartbeat", new { cpuPercent = 20.5, memoryUsed = 100, memoryTotal = 400, uptimeSeconds = 60 }))
            .StatusCode.ShouldBe(HttpStatusCode.OK);

        var body = await (await client.GetAsync($"/api/v1/instances/{id}")).ShouldBeJsonAsync();

        body.GetProperty("name").GetString().ShouldBe("detail-box");
        body.GetProperty("availableActions").EnumerateArray().Select(action => action.GetString()).ShouldBe(["suspend", "destroy", "backup"]);
        var heartbeat = body.GetProperty("lastHeartbeat");
        heartbeat.PropertyNames().ShouldBe(["cpuPercent", "memoryUsedBytes", "memoryTotalBytes", "diskUsedBytes", "diskTotalBytes", "uptimeSeconds", "timestamp"]);
        heartbeat.GetProperty("cpuPercent").GetDouble().ShouldBe(20.5);
        heartbeat.GetProperty("memoryTotalBytes").GetInt64().ShouldBe(400);
        body.GetProperty("lastHeartbeatAt").GetDateTime().ShouldBe(heartbeat.GetProperty("timestamp").GetDateTime());
    }

    [Fact]
    public async Task Before_any_heartbeat_the_last_heartbeat_is_null()
    {
        var id = await SeedInstanceAsync("quiet");
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync($"/api/v1/instances/{id}")).ShouldBeJsonAsync();

        body.GetProperty("lastHeartbeat").ValueKind.ShouldBe(System.Text.Json.JsonValueKind.Null);
    }

    [Fact]
    public async Task Unknown_and_other_teams_instances_are_404()
    {
        var foreign = await SeedInstanceAsync("foreign", teamId: Guid.CreateVersion7());
        var client = await As(BaseRole.Operator);

        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/instances/{foreign}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_malformed_id_is_400()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync("/api/v1/instances/not-a-uuid")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }
}
