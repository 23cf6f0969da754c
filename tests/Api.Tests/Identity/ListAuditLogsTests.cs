using System.Net;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ListAuditLogsTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    private static readonly DateTime Start = new(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task An_admin_reads_the_log_in_sindris_shape_with_the_users_email_and_name()
    {
        var author = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync("UPDATE identity.users SET name = 'Ada Lovelace' WHERE id = @Id", new { author.Id });
        var team = Guid.CreateVersion7();
        var byUser = await InsertAuditAsync(new AuditRow("user.update", "user", author.Id)
        {
            OccurredAt = Start.AddMinutes(1),
            ActorName = author.Username,
            ResourceType = "user",
            ResourceId = "u-1",
            TeamId = team,
            IpAddress = "203.0.113.9",
            Metadata = new { role_changed = "viewer -> operator" },
        });
        var anonymous = await InsertAuditAsync(new AuditRow("auth.login", "anonymous") { OccurredAt = Start, Result = "denied" });
        var admin = await ClientAsync(BaseRole.Admin);

        var body = await (await admin.GetAsync("/api/v1/audit")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["logs", "pagination", "nextCursor"]);
        body.GetProperty("pagination").PropertyNames().ShouldBe(["page", "limit", "pageSize", "offset", "total", "totalPages", "hasMore"]);
        body.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(2);
        body.GetProperty("pagination").GetProperty("pageSize").GetInt32().ShouldBe(50);
        body.GetProperty("nextCursor").ValueKind.ShouldBe(JsonValueKind.Null);
        var logs = body.GetProperty("logs").EnumerateArray().ToList();
        logs.Select(log => log.GetProperty("id").GetGuid()).ShouldBe([byUser, anonymous]);
        logs[0].PropertyNames().ShouldBe(
            ["id", "userId", "userEmail", "userName", "teamId", "action", "resource", "resourceId", "result", "metadata", "ipAddress", "timestamp"]);
        logs[0].GetProperty("userId").GetGuid().ShouldBe(author.Id);
        logs[0].GetProperty("userEmail").GetString().ShouldBe(author.Email);
        logs[0].GetProperty("userName").GetString().ShouldBe("Ada Lovelace");
        logs[0].GetProperty("teamId").GetGuid().ShouldBe(team);
        logs[0].GetProperty("action").GetString().ShouldBe("user.update");
        logs[0].GetProperty("resource").GetString().ShouldBe("user");
        logs[0].GetProperty("resourceId").GetString().ShouldBe("u-1");
        logs[0].GetProperty("metadata").GetProperty("role_changed").GetString().ShouldBe("viewer -> operator");
        logs[0].GetProperty("ipAddress").GetString().ShouldBe("203.0.113.9");
        logs[0].GetProperty("timestamp").GetString().ShouldBe("2025-03-01T12:01:00Z");
        logs[1].GetProperty("userId").ValueKind.ShouldBe(JsonValueKind.Null);
        logs[1].GetProperty("result").GetString().ShouldBe("denied");
    }

    [Fact]
    public async Task Each_filter_narrows_the_log()
    {
        var alice = await Fixture.CreateUserAsync();
        var bob = await Fixture.CreateUserAsync();
        var team = Guid.CreateVersion7();
        var a1 = await InsertAuditAsync(new AuditRow("role.create", "user", alice.Id) { OccurredAt = Start, ResourceType = "role", ResourceId = "r1" });
        var a2 = await InsertAuditAsync(new AuditRow("role.delete", "user", alice.Id) { OccurredAt = Start.AddHours(1), ResourceType = "role", ResourceId = "r1", TeamId = team });
        var b1 = await InsertAuditAsync(new AuditRow("role.create", "user", bob.Id) { OccurredAt = Start.AddHours(2), ResourceType = "role", ResourceId = "r2" });
        var agent = await InsertAuditAsync(new AuditRow("job.claim", "agent", alice.Id) { OccurredAt = Start.AddHours(3), ResourceType = "job", ResourceId = "j1" });
        var admin = await ClientAsync(BaseRole.Admin);

        async Task<List<Guid>> IdsAsync(string query) =>
            [.. (await (await admin.GetAsync($"/api/v1/audit?{query}")).ShouldBeJsonAsync()).GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("id").GetGuid())];

        (await IdsAsync($"user_id={alice.Id}")).ShouldBe([a2, a1]);
        (await IdsAsync($"team_id={team}")).ShouldBe([a2]);
        (await IdsAsync("action=role.create")).ShouldBe([b1, a1]);
        (await IdsAsync("resource=job")).ShouldBe([agent]);
        (await IdsAsync("resource=role&resource_id=r1")).ShouldBe([a2, a1]);
        (await IdsAsync("from=2025-03-01T13:00:00Z&to=2025-03-01T14:00:00Z")).ShouldBe([b1, a2]);
        (await IdsAsync("from=2025-03-01T15:00:00%2B02:00")).ShouldBe([agent, b1, a2]);
        (await IdsAsync("to=2025-03-01")).ShouldBeEmpty();
    }

    [Fact]
    public async Task Offset_pages_report_totals()
    {
        var ids = new List<Guid>();
        for (var i = 0; i < 7; i++)
        {
            ids.Insert(0, await InsertAuditAsync(new AuditRow("thing.happen", "system") { OccurredAt = Start.AddMinutes(i) }));
        }

        var admin = await ClientAsync(BaseRole.Admin);

        var second = await (await admin.GetAsync("/api/v1/audit?page=2&pageSize=3")).ShouldBeJsonAsync();
        var last = await (await admin.GetAsync("/api/v1/audit?page=3&limit=3")).ShouldBeJsonAsync();

        second.GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("id").GetGuid()).ShouldBe(ids.Skip(3).Take(3));
        var pagination = second.GetProperty("pagination");
        (pagination.GetProperty("page").GetInt32(), pagination.GetProperty("pageSize").GetInt32(), pagination.GetProperty("total").GetInt64(),
            pagination.GetProperty("totalPages").GetInt32(), pagination.GetProperty("hasMore").GetBoolean()).ShouldBe((2, 3, 7L, 3, true));
        last.GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("id").GetGuid()).ShouldBe([ids[6]]);
        last.GetProperty("pagination").GetProperty("hasMore").GetBoolean().ShouldBeFalse();
    }

    [Fact]
    public async Task A_cursor_walks_every_row_once_newest_first_even_across_equal_timestamps()
    {
        var inserted = new List<Guid>();
        for (var i = 0; i < 9; i++)
        {
            // Three rows share each timestamp; the id breaks the tie.
            inserted.Add(await InsertAuditAsync(new AuditRow("thing.happen", "system") { OccurredAt = Start.AddSeconds(i / 3), ResourceType = "thing" }));
        }

        await InsertAuditAsync(new AuditRow("other.thing", "system") { OccurredAt = Start.AddSeconds(1) });
        var admin = await ClientAsync(BaseRole.Admin);
        var onePage = await (await admin.GetAsync("/api/v1/audit?resource=thing&pageSize=200")).ShouldBeJsonAsync();
        var expected = onePage.GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("id").GetGuid()).ToList();
        expected.ShouldBe(inserted, ignoreOrder: true);
        onePage.GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("timestamp").GetString()).ShouldBe(
            [.. Enumerable.Range(0, 9).Select(i => Start.AddSeconds(2 - (i / 3)).ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture))]);

        var seen = new List<Guid>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var body = await (await admin.GetAsync($"/api/v1/audit?resource=thing&pageSize=2{(cursor is null ? string.Empty : $"&cursor={cursor}")}")).ShouldBeJsonAsync();
            body.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(9);
            seen.AddRange(body.GetProperty("logs").EnumerateArray().Select(log => log.GetProperty("id").GetGuid()));
            cursor = body.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null && pages < 10);

        seen.ShouldBe(expected);
        pages.ShouldBe(5);
    }

    [Fact]
    public async Task A_cursor_carries_its_walks_total_and_is_recounted_under_other_filters()
    {
        for (var i = 0; i < 4; i++)
        {
            await InsertAuditAsync(new AuditRow("thing.happen", "system") { OccurredAt = Start.AddSeconds(i), ResourceType = "thing" });
        }

        var admin = await ClientAsync(BaseRole.Admin);
        var first = await (await admin.GetAsync("/api/v1/audit?resource=thing&pageSize=1")).ShouldBeJsonAsync();
        var cursor = first.GetProperty("nextCursor").GetString();
        await InsertAuditAsync(new AuditRow("thing.happen", "system") { OccurredAt = Start.AddSeconds(-10), ResourceType = "thing" });

        var deeper = await (await admin.GetAsync($"/api/v1/audit?resource=thing&pageSize=1&cursor={cursor}")).ShouldBeJsonAsync();
        deeper.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(4, "the total the walk started with, not counted again");
        var refiltered = await (await admin.GetAsync($"/api/v1/audit?resource=thing&action=thing.happen&pageSize=1&cursor={cursor}")).ShouldBeJsonAsync();
        refiltered.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(5, "other filters are counted afresh");
        var fresh = await (await admin.GetAsync("/api/v1/audit?resource=thing&pageSize=1")).ShouldBeJsonAsync();
        fresh.GetProperty("pagination").GetProperty("total").GetInt64().ShouldBe(5);
    }

    [Theory]
    [InlineData("user_id=alice", "user_id")]
    [InlineData("team_id=7", "team_id")]
    [InlineData("from=yesterday", "from")]
    [InlineData("to=2025-13-45", "to")]
    [InlineData("from=2025-03-02&to=2025-03-01", "from")]
    [InlineData("pageSize=201", "pageSize")]
    [InlineData("limit=0", "limit")]
    [InlineData("page=0", "page")]
    [InlineData("cursor=not-a-cursor", "cursor")]
    public async Task Malformed_queries_are_400_naming_the_parameter(string query, string field)
    {
        var admin = await ClientAsync(BaseRole.Admin);

        (await (await admin.GetAsync($"/api/v1/audit?{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var operatorClient = await ClientAsync(BaseRole.Operator);

        await (await Client.GetAsync("/api/v1/audit")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await (await operatorClient.GetAsync("/api/v1/audit")).ShouldBeErrorAsync(HttpStatusCode.Forbidden))
            .GetProperty("message").GetString()!.ShouldContain("audit.read");
    }
}
