using System.Globalization;
using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Logs;

public sealed class LogQueryTests(FleetFixture fixture) : FleetTest(fixture)
{
    private async Task<Guid> LogAsync(Guid instance, string level, string source, string message, DateTime at)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.logs (id, instance_id, level, source, message, logged_at) VALUES (@Id, @Instance, @Level, @Source, @Message, @At)",
            new { Id = id, Instance = instance, Level = level, Source = source, Message = message, At = at });
        return id;
    }

    [Fact]
    public async Task Filters_by_level_source_instance_and_time_newest_first()
    {
        var a = await SeedInstanceAsync("q-a");
        var b = await SeedInstanceAsync("q-b");
        var now = DateTime.UtcNow;
        await LogAsync(a, "INFO", "APP", "started", now.AddMinutes(-30));
        await LogAsync(a, "ERROR", "APP", "crashed", now.AddMinutes(-20));
        await LogAsync(b, "WARN", "BUILD", "slow build", now.AddMinutes(-10));
        await LogAsync(b, "DEBUG", "AGENT", "tick", now.AddMinutes(-5));
        var client = await As(BaseRole.Viewer);

        async Task<string?[]> Messages(string query) =>
            [.. (await (await client.GetAsync($"/api/v1/logs?{query}")).ShouldBeJsonAsync()).GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("message").GetString())];

        (await Messages(string.Empty)).ShouldBe(["tick", "slow build", "crashed", "started"]);
        (await Messages("level=ERROR,warn")).ShouldBe(["slow build", "crashed"]);
        (await Messages("source=APP")).ShouldBe(["crashed", "started"]);
        (await Messages($"instanceId={b}")).ShouldBe(["tick", "slow build"]);
        var from = Uri.EscapeDataString(now.AddMinutes(-25).ToString("O", CultureInfo.InvariantCulture));
        var to = Uri.EscapeDataString(now.AddMinutes(-7).ToString("O", CultureInfo.InvariantCulture));
        (await Messages($"from={from}&to={to}")).ShouldBe(["slow build", "crashed"]);

        var body = await (await client.GetAsync("/api/v1/logs?limit=2")).ShouldBeJsonAsync();
        body.PropertyNames().ShouldBe(["logs", "data", "pagination", "nextCursor", "totalExact"]);
        body.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(4);
        body.GetProperty("totalExact").GetBoolean().ShouldBeTrue();
        body.GetProperty("pagination").GetProperty("totalPages").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task Search_is_full_text_with_stemming_and_falls_back_to_substrings()
    {
        var id = await SeedInstanceAsync("searchable");
        var now = DateTime.UtcNow;
        await LogAsync(id, "ERROR", "APP", "Connection refused by upstream database", now.AddMinutes(-3));
        await LogAsync(id, "INFO", "APP", "connecting to cache", now.AddMinutes(-2));
        await LogAsync(id, "INFO", "APP", "request id=af31c9e2 served", now.AddMinutes(-1));
        var client = await As(BaseRole.Viewer);

        async Task<string?[]> Search(string term) =>
            [.. (await (await client.GetAsync($"/api/v1/logs?search={Uri.EscapeDataString(term)}")).ShouldBeJsonAsync()).GetProperty("logs").EnumerateArray()
                .Select(log => log.GetProperty("message").GetString())];

        (await Search("connections")).ShouldBe(["connecting to cache", "Connection refused by upstream database"]);
        (await Search("refused database")).ShouldBe(["Connection refused by upstream database"]);
        (await Search("\"upstream database\"")).ShouldBe(["Connection refused by upstream database"]);
        (await Search("31c9")).ShouldBe(["request id=af31c9e2 served"]);
        (await Search("connect")).ShouldBe(["connecting to cache", "Connection refused by upstream database"]);
        (await Search("nothing-like-this")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Keyset_cursors_walk_every_line_once_even_when_times_tie()
    {
        var id = await SeedInstanceAsync("paged");
        var at = DateTime.UtcNow.AddMinutes(-1);
        var written = new List<Guid>();
        for (var index = 0; index < 7; index++)
        {
            written.Add(await LogAsync(id, "INFO", "APP", $"line {index}", at));
        }

        var client = await As(BaseRole.Viewer);
        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var body = await (await client.GetAsync($"/api/v1/logs?limit=3{(cursor is null ? string.Empty : $"&cursor={cursor}")}")).ShouldBeJsonAsync();
            seen.AddRange(body.GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("id").GetGuid()));
            cursor = body.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        seen.Count.ShouldBe(7);
        seen.ShouldBe(written, ignoreOrder: true);
    }

    [Theory]
    [InlineData("level=LOUD", "level")]
    [InlineData("source=KERNEL", "source")]
    [InlineData("limit=501", "limit")]
    [InlineData("cursor=%25%25", "cursor")]
    [InlineData("from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z", "to")]
    public async Task Bad_queries_are_400(string query, string field)
    {
        var client = await As(BaseRole.Viewer);

        var response = await client.GetAsync($"/api/v1/logs?{query}");

        (await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task A_search_longer_than_512_characters_is_400()
    {
        var client = await As(BaseRole.Viewer);

        await (await client.GetAsync($"/api/v1/logs?search={new string('a', 513)}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Stats_count_by_level_source_and_instance()
    {
        var a = await SeedInstanceAsync("loud");
        var b = await SeedInstanceAsync("quiet");
        var now = DateTime.UtcNow;
        await LogAsync(a, "ERROR", "APP", "1", now.AddMinutes(-3));
        await LogAsync(a, "ERROR", "BUILD", "2", now.AddMinutes(-2));
        await LogAsync(b, "INFO", "APP", "3", now.AddMinutes(-1));
        var client = await As(BaseRole.Viewer);

        var body = await (await client.GetAsync("/api/v1/logs/stats")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["total", "byLevel", "bySource", "topInstances"]);
        body.GetProperty("total").GetInt64().ShouldBe(3);
        body.GetProperty("byLevel").GetProperty("ERROR").GetInt64().ShouldBe(2);
        body.GetProperty("byLevel").GetProperty("DEBUG").GetInt64().ShouldBe(0);
        body.GetProperty("bySource").GetProperty("APP").GetInt64().ShouldBe(2);
        var top = body.GetProperty("topInstances")[0];
        top.PropertyNames().ShouldBe(["instanceId", "instanceName", "count"]);
        top.GetProperty("instanceName").GetString().ShouldBe("loud");
        top.GetProperty("count").GetInt64().ShouldBe(2);
        await (await client.GetAsync("/api/v1/logs/stats?from=2024-01-02T00:00:00Z&to=2024-01-01T00:00:00Z")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Instance_scoped_query_and_stats()
    {
        var a = await SeedInstanceAsync("mine");
        var b = await SeedInstanceAsync("other");
        var now = DateTime.UtcNow;
        await LogAsync(a, "WARN", "APP", "mine 1", now.AddMinutes(-2));
        await LogAsync(a, "INFO", "AGENT", "mine 2", now.AddMinutes(-1));
        await LogAsync(b, "INFO", "APP", "theirs", now.AddMinutes(-1));
        var client = await As(BaseRole.Viewer);

        var logs = await (await client.GetAsync($"/api/v1/instances/{a}/logs?level=WARN")).ShouldBeJsonAsync();
        var stats = await (await client.GetAsync($"/api/v1/instances/{a}/logs/stats")).ShouldBeJsonAsync();

        logs.PropertyNames().ShouldBe(["instanceId", "logs", "data", "pagination", "nextCursor", "totalExact"]);
        logs.GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("message").GetString()).ShouldBe(["mine 1"]);
        stats.PropertyNames().ShouldBe(["instanceId", "total", "byLevel", "bySource", "lastLogAt"]);
        stats.GetProperty("total").GetInt64().ShouldBe(2);
        stats.GetProperty("bySource").GetProperty("AGENT").GetInt64().ShouldBe(1);
        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/logs")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/instances/{Guid.CreateVersion7()}/logs/stats")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await client.GetAsync($"/api/v1/instances/{a}/logs?level=LOUD")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Logs_of_other_teams_instances_are_hidden()
    {
        var hidden = await SeedInstanceAsync("secret", teamId: Guid.CreateVersion7());
        var logId = await LogAsync(hidden, "INFO", "APP", "classified", DateTime.UtcNow.AddMinutes(-1));
        var client = await As(BaseRole.Viewer);

        (await (await client.GetAsync("/api/v1/logs")).ShouldBeJsonAsync()).GetProperty("logs").GetArrayLength().ShouldBe(0);
        await (await client.GetAsync($"/api/v1/logs/{logId}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task A_search_matching_more_lines_than_the_count_limit_says_its_total_is_a_lower_bound()
    {
        var id = await SeedInstanceAsync("chatty");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.logs (id, instance_id, level, source, message, logged_at)
            SELECT gen_random_uuid(), @Id, 'INFO', 'APP', 'worker heartbeat ' || n, now() - n * interval '1 second'
            FROM generate_series(1, 1005) n
            """,
            new { Id = id });
        await LogAsync(id, "ERROR", "APP", "disk quota exceeded", DateTime.UtcNow);
        var client = await As(BaseRole.Viewer);

        var many = await (await client.GetAsync("/api/v1/logs?search=heartbeat&limit=50")).ShouldBeJsonAsync();
        many.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(1000);
        many.GetProperty("pagination").GetProperty("hasMore").GetBoolean().ShouldBeTrue();
        many.GetProperty("totalExact").GetBoolean().ShouldBeFalse();
        many.GetProperty("logs").GetArrayLength().ShouldBe(50);
        many.GetProperty("nextCursor").GetString().ShouldNotBeNullOrEmpty();

        var few = await (await client.GetAsync("/api/v1/logs?search=quota")).ShouldBeJsonAsync();
        few.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(1);
        few.GetProperty("pagination").GetProperty("hasMore").GetBoolean().ShouldBeFalse();
        few.GetProperty("totalExact").GetBoolean().ShouldBeTrue();
    }
}
