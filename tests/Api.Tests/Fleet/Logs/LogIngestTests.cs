using System.Net;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Logs;

public sealed class LogIngestTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task A_single_line_is_stored_and_returned_with_201()
    {
        var id = await SeedInstanceAsync("logger");
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/logs/ingest", new
        {
            instanceId = id,
            level = "warning",
            source = "extension:python",
            message = "pip is slow",
            metadata = new { package = "numpy" },
            timestamp = DateTime.UtcNow.AddMinutes(-1),
        });

        var body = await response.ShouldBeJsonAsync(HttpStatusCode.Created);
        body.PropertyNames().ShouldBe(["id", "instanceId", "level", "source", "message", "metadata", "deploymentId", "timestamp"]);
        body.GetProperty("level").GetString().ShouldBe("WARN");
        body.GetProperty("source").GetString().ShouldBe("EXTENSION");
        body.GetProperty("metadata").GetProperty("package").GetString().ShouldBe("numpy");
        (await (await client.GetAsync($"/api/v1/logs/{body.GetProperty("id").GetGuid()}")).ShouldBeJsonAsync()).GetProperty("message").GetString().ShouldBe("pip is slow");
    }

    [Theory]
    [InlineData("{\"level\":\"INFO\",\"source\":\"APP\",\"message\":\"x\"}", "instanceId")]
    [InlineData("{\"instanceId\":\"@id\",\"level\":\"LOUD\",\"source\":\"APP\",\"message\":\"x\"}", "level")]
    [InlineData("{\"instanceId\":\"@id\",\"level\":\"INFO\",\"source\":\"KERNEL\",\"message\":\"x\"}", "source")]
    [InlineData("{\"instanceId\":\"@id\",\"level\":\"INFO\",\"source\":\"APP\",\"message\":\"\"}", "message")]
    [InlineData("{\"instanceId\":\"@id\",\"level\":\"INFO\",\"source\":\"APP\",\"message\":\"x\",\"metadata\":[1]}", "metadata")]
    [InlineData("{\"instanceId\":\"@id\",\"level\":\"INFO\",\"source\":\"APP\",\"message\":\"x\",\"timestamp\":\"2001-01-01T00:00:00Z\"}", "timestamp")]
    public async Task Bad_lines_are_400_naming_the_field(string json, string field)
    {
        var id = await SeedInstanceAsync("logger");
        var client = await As(BaseRole.Viewer);

        var response = await client.PostAsync("/api/v1/logs/ingest", new StringContent(json.Replace("@id", id.ToString(), StringComparison.Ordinal), Encoding.UTF8, "application/json"));

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_line_for_a_day_whose_partition_is_not_made_yet_is_503_with_retry_after_and_stored_once_it_is()
    {
        // Just after start-up the older days of the retention are still being made (FleetPartitions.AfterReadyAsync).
        var id = await SeedInstanceAsync("logger");
        var client = await As(BaseRole.Viewer);
        var day = DateTime.UtcNow.Date.AddDays(-2);
        await Fixture.ExecuteAsync($"DROP TABLE fleet.logs_p{day:yyyyMMdd}");
        try
        {
            var line = new { instanceId = id, level = "INFO", source = "APP", message = "from the day before yesterday", timestamp = day.AddHours(12) };

            var refused = await client.PostJsonAsync("/api/v1/logs/ingest", line);

            (await refused.ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable)).GetProperty("message").GetString()!.ShouldContain("retry");
            refused.Headers.RetryAfter.ShouldNotBeNull();
            await Fixture.ExecuteAsync("SELECT fleet.ensure_daily_partitions('logs', current_date - 3, current_date + 3)");
            await (await client.PostJsonAsync("/api/v1/logs/ingest", line)).ShouldBeJsonAsync(HttpStatusCode.Created);
        }
        finally
        {
            await Fixture.ExecuteAsync("SELECT fleet.ensure_daily_partitions('logs', current_date - 3, current_date + 3)");
        }
    }

    [Fact]
    public async Task A_message_longer_than_ten_thousand_characters_is_400()
    {
        var id = await SeedInstanceAsync("logger");
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = id, level = "INFO", source = "APP", message = new string('x', 10_001) });

        await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unknown_instances_are_404_and_destroyed_ones_409()
    {
        var destroyed = await SeedInstanceAsync("gone", status: "DESTROYED");
        var client = await As(BaseRole.Viewer);

        await (await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = Guid.CreateVersion7(), level = "INFO", source = "APP", message = "x" }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = destroyed, level = "INFO", source = "APP", message = "x" }))
            .ShouldBeErrorAsync(HttpStatusCode.Conflict);
    }

    [Fact]
    public async Task A_batch_of_a_thousand_lines_is_copied_in_one_go()
    {
        var a = await SeedInstanceAsync("batch-a");
        var b = await SeedInstanceAsync("batch-b");
        var client = await As(BaseRole.Viewer);
        var entries = Enumerable.Range(0, 1000).Select(index => new
        {
            instanceId = index % 2 == 0 ? a : b,
            level = index % 10 == 0 ? "ERROR" : "INFO",
            source = "APP",
            message = $"line {index}",
            metadata = index == 0 ? new { first = true } : null,
        });

        var body = await (await client.PostJsonAsync("/api/v1/logs/ingest/batch", new { entries })).ShouldBeJsonAsync(HttpStatusCode.Created);

        body.PropertyNames().ShouldBe(["count", "ids"]);
        body.GetProperty("count").GetInt32().ShouldBe(1000);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.logs")).ShouldBe(1000);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.logs WHERE level = 'ERROR'")).ShouldBe(100);
        (await Fixture.ScalarAsync<string>("SELECT metadata->>'first' FROM fleet.logs WHERE message = 'line 0'")).ShouldBe("true");
    }

    [Fact]
    public async Task More_than_a_thousand_entries_is_413_and_nothing_is_stored()
    {
        var id = await SeedInstanceAsync("flood");
        var client = await As(BaseRole.Viewer);
        var entries = Enumerable.Range(0, 1001).Select(index => new { instanceId = id, level = "INFO", source = "APP", message = $"line {index}" });

        var response = await client.PostJsonAsync("/api/v1/logs/ingest/batch", new { entries });

        (await response.ShouldBeErrorAsync(HttpStatusCode.RequestEntityTooLarge)).GetProperty("message").GetString()!.ShouldContain("1000");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.logs")).ShouldBe(0);
    }

    [Fact]
    public async Task An_empty_batch_or_a_bad_entry_is_400_naming_the_entry_and_stores_nothing()
    {
        var id = await SeedInstanceAsync("picky");
        var client = await As(BaseRole.Viewer);

        await (await client.PostJsonAsync("/api/v1/logs/ingest/batch", new { entries = Array.Empty<object>() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        var bad = await client.PostJsonAsync("/api/v1/logs/ingest/batch", new
        {
            entries = new object[]
            {
                new { instanceId = id, level = "INFO", source = "APP", message = "fine" },
                new { instanceId = id, level = "NOPE", source = "APP", message = "bad" },
            },
        });

        (await bad.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("entries[1].level", out _).ShouldBeTrue();
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.logs")).ShouldBe(0);
    }

    [Fact]
    public async Task A_batch_naming_an_unknown_instance_is_404()
    {
        var id = await SeedInstanceAsync("known");
        var client = await As(BaseRole.Viewer);

        var response = await client.PostJsonAsync("/api/v1/logs/ingest/batch", new
        {
            entries = new object[]
            {
                new { instanceId = id, level = "INFO", source = "APP", message = "a" },
                new { instanceId = Guid.CreateVersion7(), level = "INFO", source = "APP", message = "b" },
            },
        });

        await response.ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.logs")).ShouldBe(0);
    }

    [Fact]
    public async Task A_single_log_that_does_not_exist_is_404()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync($"/api/v1/logs/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync("/api/v1/logs/not-an-id")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Ingest_is_not_audited_row_by_row()
    {
        var id = await SeedInstanceAsync("quiet");
        var client = await As(BaseRole.Viewer);

        await client.PostJsonAsync("/api/v1/logs/ingest", new { instanceId = id, level = "INFO", source = "APP", message = "x" });

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log WHERE action ILIKE '%log%'")).ShouldBe(0);
        JsonDocument.Parse("{}").RootElement.ValueKind.ShouldBe(JsonValueKind.Object);
    }
}
