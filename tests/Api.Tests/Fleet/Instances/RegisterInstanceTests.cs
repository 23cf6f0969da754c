using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Instances;

public sealed class RegisterInstanceTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task A_viewer_registers_an_instance_which_runs_with_registry_coordinates_and_a_deploy_event()
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/instances", new
        {
            name = "dev-box-1",
            provider = "fly",
            region = "sea",
            distro = "ubuntu",
            extensions = new[] { "python", "git" },
            configHash = new string('a', 64),
            sshEndpoint = "dev-box-1.fly.dev:22",
            tags = new { team = "web" },
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe([
            "id", "name", "provider", "region", "distro", "extensions", "configHash", "sshEndpoint", "dockerHost", "status", "teamId", "tags", "geo",
            "agentVersion", "os", "arch", "online", "lastHeartbeatAt", "createdAt", "updatedAt",
        ]);
        body.GetProperty("status").GetString().ShouldBe("RUNNING");
        body.GetProperty("extensions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["python", "git"]);
        body.GetProperty("geo").GetProperty("lat").GetDouble().ShouldBe(47.61);
        body.GetProperty("geo").GetProperty("source").GetString().ShouldBe("region_registry");
        body.GetProperty("tags").GetProperty("team").GetString().ShouldBe("web");
        body.GetProperty("online").GetBoolean().ShouldBeFalse();
        response.Headers.Location!.ToString().ShouldBe($"/api/v1/instances/{body.GetProperty("id").GetGuid()}");
        (await Fixture.ScalarAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id", new { Id = body.GetProperty("id").GetGuid() }))
            .ShouldBe("DEPLOY");
    }

    [Fact]
    public async Task Registering_the_same_name_again_updates_the_instance_and_answers_200()
    {
        var client = await As(BaseRole.Viewer);
        var id = await RegisterAsync(client, "box");
        await Fixture.ExecuteAsync("UPDATE fleet.instances SET status = 'ERROR' WHERE id = @Id", new { Id = id });

        var response = await client.PostJsonAsync("/api/v1/instances", new { name = "box", provider = "aws", region = "eu-west-1" });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.OK);
        body.GetProperty("id").GetGuid().ShouldBe(id);
        body.GetProperty("provider").GetString().ShouldBe("aws");
        body.GetProperty("status").GetString().ShouldBe("RUNNING");
        body.GetProperty("geo").GetProperty("label").GetString().ShouldBe("Europe (Ireland)");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instance_events WHERE instance_id = @Id AND event_type = 'DEPLOY'", new { Id = id })).ShouldBe(2);
    }

    [Fact]
    public async Task A_destroyed_instance_keeps_its_row_and_its_name_can_be_registered_anew()
    {
        var client = await As(BaseRole.Viewer);
        var old = await SeedInstanceAsync("reused", status: "DESTROYED");

        var id = await RegisterAsync(client, "reused");

        id.ShouldNotBe(old);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.instances WHERE name = 'reused'")).ShouldBe(2);
    }

    [Fact]
    public async Task The_draupnir_agent_body_is_accepted_and_named_by_host_name()
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/instances", new
        {
            instance_id = "agent-7f3",
            hostname = "Build_Host.local",
            provider = "docker",
            agent_version = "1.4.2",
            os = "linux",
            arch = "amd64",
            tags = new { geo_lat = "52.5", geo_lon = 13.4 },
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.GetProperty("name").GetString().ShouldBe("build-host-local");
        body.GetProperty("agentVersion").GetString().ShouldBe("1.4.2");
        body.GetProperty("geo").GetProperty("source").GetString().ShouldBe("user_tags");
        body.GetProperty("geo").GetProperty("lat").GetDouble().ShouldBe(52.5);
    }

    [Fact]
    public async Task Agent_supplied_coordinates_are_used_when_the_region_is_unknown()
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/instances", new { name = "edge", provider = "ssh", region = "basement", geo = new { lat = 10.5, lon = 20.25, city = "Lab" } });

        var geo = (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("geo");
        geo.GetProperty("label").GetString().ShouldBe("Lab");
        geo.GetProperty("source").GetString().ShouldBe("cloud_metadata");
    }

    [Fact]
    public async Task Anonymous_callers_get_401()
    {
        var response = await Client.PostJsonAsync("/api/v1/instances", new { name = "x", provider = "fly" });

        await response.ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("{\"provider\":\"fly\"}", "name")]
    [InlineData("{\"name\":\"Bad Name\",\"provider\":\"fly\"}", "name")]
    [InlineData("{\"name\":\"ok\",\"provider\":\"mainframe\"}", "provider")]
    [InlineData("{\"name\":\"ok\"}", "provider")]
    [InlineData("{\"name\":\"ok\",\"provider\":\"fly\",\"distro\":\"arch\"}", "distro")]
    [InlineData("{\"name\":\"ok\",\"provider\":\"fly\",\"configHash\":\"xyz\"}", "configHash")]
    [InlineData("{\"name\":\"ok\",\"provider\":\"fly\",\"tags\":[1]}", "tags")]
    [InlineData("{\"name\":\"ok\",\"provider\":\"fly\",\"geo\":{\"lat\":91,\"lon\":0}}", "geo.lat")]
    public async Task Bad_bodies_are_400_naming_the_field(string json, string field)
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.PostAsync("/api/v1/instances", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_name_held_by_another_teams_instance_is_a_409()
    {
        var team = Guid.CreateVersion7();
        await SeedInstanceAsync("team-box", teamId: team);
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsJsonAsync("/api/v1/instances", new { name = "team-box", provider = "fly" });

        await response.ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task A_team_the_caller_is_not_in_is_a_400()
    {
        var client = await As(BaseRole.Operator);

        var response = await client.PostAsJsonAsync("/api/v1/instances", new { name = "mine", provider = "fly", teamId = Guid.CreateVersion7() });

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("teamId", out _).ShouldBeTrue();
    }
}
