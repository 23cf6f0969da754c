using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Agents;

public sealed class AgentSocketTests(FleetFixture fixture) : FleetTest(fixture)
{
    private async Task<string> KeyAsync(BaseRole role = BaseRole.Viewer) => await Fixture.CreateApiKeyAsync(await Fixture.CreateUserAsync(role));

    [Fact]
    public async Task Connecting_records_the_socket_brings_a_stopped_instance_back_and_closing_forgets_it()
    {
        var id = await SeedInstanceAsync("returning", status: "STOPPED");

        await using (var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, "returning", await KeyAsync()))
        {
            (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instances WHERE id = @Id", new { Id = id })).ShouldBe("RUNNING");
            (await Fixture.ScalarAsync<bool>("SELECT agent_connection_id IS NOT NULL FROM fleet.instances WHERE id = @Id", new { Id = id })).ShouldBeTrue();
        }

        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (await Fixture.ScalarAsync<bool>("SELECT agent_connection_id IS NOT NULL FROM fleet.instances WHERE id = @Id", new { Id = id }) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        (await Fixture.QueryAsync<string>("SELECT event_type FROM fleet.instance_events WHERE instance_id = @Id ORDER BY occurred_at", new { Id = id }))
            .ShouldBe(["CONNECT", "DISCONNECT"]);
    }

    [Fact]
    public async Task A_single_use_ticket_authenticates_the_upgrade()
    {
        await SeedInstanceAsync("ticketed");
        var client = await As(BaseRole.Viewer);
        var ticket = (await (await client.PostAsync("/api/v1/ws/ticket", null)).ShouldBeJsonAsync()).GetProperty("ticket").GetString()!;

        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, "ticketed", ticket: ticket);

        (await agent.HeartbeatAsync(new { cpuPercent = 1 })).GetProperty("payload").GetProperty("ok").GetBoolean().ShouldBeTrue();
        await Should.ThrowAsync<Exception>(() => SimulatedAgent.ConnectAsync(Fixture.Factory, "ticketed", ticket: ticket));
    }

    [Fact]
    public async Task An_unknown_instance_is_closed_with_policy_violation()
    {
        var client = Fixture.Factory.Server.CreateWebSocketClient();
        var key = await KeyAsync();
        client.ConfigureRequest = request =>
        {
            request.Headers.Authorization = $"Bearer {key}";
            request.Headers["X-Instance-ID"] = "nobody-here";
        };
        using var socket = await client.ConnectAsync(new Uri("ws://localhost/ws/agent"), CancellationToken.None);

        var result = await socket.ReceiveAsync(new byte[1024], CancellationToken.None);

        result.MessageType.ShouldBe(WebSocketMessageType.Close);
        socket.CloseStatus.ShouldBe(WebSocketCloseStatus.PolicyViolation);
        socket.CloseStatusDescription.ShouldBe("Unknown instance ID");
    }

    [Fact]
    public async Task Without_an_upgrade_or_an_instance_header_the_route_is_400_and_without_credentials_401()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync("/ws/agent")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        var missingHeader = Fixture.Factory.Server.CreateWebSocketClient();
        var key = await KeyAsync();
        missingHeader.ConfigureRequest = request => request.Headers.Authorization = $"Bearer {key}";
        await Should.ThrowAsync<Exception>(() => missingHeader.ConnectAsync(new Uri("ws://localhost/ws/agent"), CancellationToken.None));
        var anonymous = Fixture.Factory.Server.CreateWebSocketClient();
        anonymous.ConfigureRequest = request => request.Headers["X-Instance-ID"] = "x";
        await Should.ThrowAsync<Exception>(() => anonymous.ConnectAsync(new Uri("ws://localhost/ws/agent"), CancellationToken.None));
    }

    [Fact]
    public async Task A_newer_socket_replaces_the_older_one()
    {
        var id = await SeedInstanceAsync("twice");
        var key = await KeyAsync();
        await using var first = await SimulatedAgent.ConnectAsync(Fixture.Factory, id.ToString(), key);

        await using var second = await SimulatedAgent.ConnectAsync(Fixture.Factory, id.ToString(), key);

        await first.WaitForCloseAsync();
        first.CloseStatus.ShouldBe(WebSocketCloseStatus.EndpointUnavailable);
        first.CloseDescription.ShouldBe("Replaced by a newer connection");
        (await second.HeartbeatAsync(new { cpuPercent = 2 })).GetProperty("type").GetString().ShouldBe("heartbeat:pong");
    }

    [Fact]
    public async Task Bad_messages_are_answered_with_errors_and_the_socket_stays_open()
    {
        await SeedInstanceAsync("chatty");
        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, "chatty", await KeyAsync());

        await agent.SendRawAsync("not json");
        (await agent.NextAsync("error")).GetProperty("payload").GetProperty("message").GetString().ShouldBe("A message is a JSON object with a \"type\"");
        await agent.SendAsync("terminal:output", new { data = "x" });
        (await agent.NextAsync("error")).GetProperty("payload").GetProperty("message").GetString().ShouldBe("Unsupported message type 'terminal:output'");
        await agent.SendAsync("heartbeat", new { cpuPercent = 400 }, correlationId: "c-1");
        var invalid = await agent.NextAsync("error");
        invalid.GetProperty("correlation_id").GetString().ShouldBe("c-1");
        invalid.GetProperty("payload").GetProperty("details").TryGetProperty("cpuPercent", out _).ShouldBeTrue();
        await agent.SendAsync("command:result", new { command_id = Guid.CreateVersion7(), exit_code = 0 });

        (await agent.HeartbeatAsync(new { cpuPercent = 4 })).GetProperty("payload").GetProperty("ok").GetBoolean().ShouldBeTrue();
    }

    [Fact]
    public async Task Events_and_backup_results_from_the_agent_land_in_the_timeline()
    {
        var id = await SeedInstanceAsync("reporting");
        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, "reporting", await KeyAsync());
        var operatorClient = await As(BaseRole.Operator);
        var backup = (await (await operatorClient.PostJsonAsync($"/api/v1/instances/{id}/backup", new { label = "nightly" })).ShouldBeJsonAsync(HttpStatusCode.Accepted))
            .GetProperty("backupId").GetString();
        var request = await agent.NextAsync("backup:request");
        request.GetProperty("payload").GetProperty("label").GetString().ShouldBe("nightly");

        await agent.SendAsync("event", new { eventType = "extension_install", extension = "rust" });
        await agent.SendAsync("backup:result", new { backup_id = backup, status = "completed", size_bytes = 1024, location = "s3://backups/nightly" });
        await agent.HeartbeatAsync(new { cpuPercent = 1 });

        var events = await (await operatorClient.GetAsync($"/api/v1/instances/{id}/events")).ShouldBeJsonAsync();
        events.GetProperty("events").EnumerateArray().Select(item => item.GetProperty("type").GetString()).ShouldContain("EXTENSION_INSTALL");
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.instance_backups WHERE id = @Id", new { Id = Guid.Parse(backup!) })).ShouldBe("completed");
        JsonSerializer.Serialize(events).ShouldContain("rust");
    }

    [Fact]
    public async Task Destroying_the_instance_closes_its_agent_socket()
    {
        var id = await SeedInstanceAsync("ending");
        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, "ending", await KeyAsync());
        var operatorClient = await As(BaseRole.Operator);

        await operatorClient.PostJsonAsync("/api/v1/instances/bulk-action", new { instanceIds = new[] { id }, action = "destroy" });

        await agent.WaitForCloseAsync();
        agent.CloseStatus.ShouldBe(WebSocketCloseStatus.NormalClosure);
        agent.CloseDescription.ShouldBe("Instance destroyed");
    }
}
