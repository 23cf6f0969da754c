using System.Net;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Logs;

public sealed class LogStreamTests(FleetFixture fixture) : FleetTest(fixture)
{
    /// <summary>Reads an SSE response: data frames as JSON, comments as "#comment".</summary>
    private static async Task<List<string>> ReadAsync(StreamReader reader, Func<List<string>, bool> enough)
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var frames = new List<string>();
        while (!enough(frames))
        {
            var line = await reader.ReadLineAsync(deadline.Token) ?? throw new EndOfStreamException();
            if (line.StartsWith("data: ", StringComparison.Ordinal))
            {
                frames.Add(line[6..]);
            }
            else if (line.StartsWith(':'))
            {
                frames.Add("#" + line[1..].Trim());
            }
        }

        return frames;
    }

    [Fact]
    public async Task The_instance_tail_sends_connected_then_new_lines_and_heartbeat_comments()
    {
        var id = await SeedInstanceAsync("tailed");
        var other = await SeedInstanceAsync("ignored");
        var client = await As(BaseRole.Viewer);
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/v1/instances/{id}/logs/stream");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());

        var connected = await ReadAsync(reader, frames => frames.Count >= 1);
        JsonDocument.Parse(connected[0]).RootElement.GetProperty("type").GetString().ShouldBe("connected");

        await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = other, level = "INFO", source = "APP", message = "not for this tail" });
        await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = id, level = "ERROR", source = "APP", message = "single line" });
        await client.PostJsonAsync("/api/v1/logs/ingest/batch", new
        {
            entries = new[] { new { instanceId = id, level = "INFO", source = "AGENT", message = "batch one" }, new { instanceId = id, level = "INFO", source = "AGENT", message = "batch two" } },
        });

        var frames = await ReadAsync(reader, frames => frames.Count(frame => !frame.StartsWith('#')) >= 3 && frames.Any(frame => frame == "#heartbeat"));
        var lines = frames.Where(frame => !frame.StartsWith('#')).Select(frame => JsonDocument.Parse(frame).RootElement).ToList();
        lines.Select(line => line.GetProperty("message").GetString()).ShouldBe(["single line", "batch one", "batch two"]);
        lines[0].PropertyNames().ShouldBe(["id", "instanceId", "level", "source", "message", "metadata", "deploymentId", "timestamp"]);
    }

    [Fact]
    public async Task The_fleet_tail_follows_the_named_instances_with_a_level_filter()
    {
        var a = await SeedInstanceAsync("tail-a");
        var b = await SeedInstanceAsync("tail-b");
        var client = await As(BaseRole.Viewer);
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/v1/logs/stream?instanceIds={a},{b}&level=ERROR"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        await ReadAsync(reader, frames => frames.Count >= 1);

        await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = a, level = "INFO", source = "APP", message = "filtered out" });
        await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = b, level = "ERROR", source = "APP", message = "kept" });

        var frames = await ReadAsync(reader, frames => frames.Any(frame => !frame.StartsWith('#')));
        JsonDocument.Parse(frames.First(frame => !frame.StartsWith('#'))).RootElement.GetProperty("message").GetString().ShouldBe("kept");
    }

    [Fact]
    public async Task A_line_ingested_on_another_replica_reaches_the_tail()
    {
        var id = await SeedInstanceAsync("replicated");
        await using var replica = new ApiFactory(Fixture.ConnectionString, FleetFixture.Settings);
        await replica.WaitUntilReadyAsync();
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var key = await Fixture.CreateApiKeyAsync(user);
        using var other = replica.CreateClient();
        other.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        var client = await Fixture.ClientAsAsync(user);
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, $"/api/v1/instances/{id}/logs/stream"), HttpCompletionOption.ResponseHeadersRead);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        await ReadAsync(reader, frames => frames.Count >= 1);

        (await other.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = id, level = "INFO", source = "APP", message = "from the other replica" })).StatusCode
            .ShouldBe(HttpStatusCode.Created);

        var frames = await ReadAsync(reader, frames => frames.Any(frame => !frame.StartsWith('#')));
        frames.First(frame => !frame.StartsWith('#')).ShouldContain("from the other replica");
    }

    [Fact]
    public async Task The_fleet_tail_needs_instance_ids_and_known_instances()
    {
        var client = await As(BaseRole.Viewer);

        (await (await client.GetAsync("/api/v1/logs/stream")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString()
            .ShouldBe("Provide at least one instanceId via ?instanceIds=id1,id2");
        await (await client.GetAsync("/api/v1/logs/stream?instanceIds=nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.GetAsync($"/api/v1/logs/stream?instanceIds={Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/logs/stream")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        var id = await SeedInstanceAsync("filtered");
        await (await client.GetAsync($"/api/v1/instances/{id}/logs/stream?level=LOUD")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }
}
