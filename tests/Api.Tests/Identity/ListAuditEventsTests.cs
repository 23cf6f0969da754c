using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Identity;

public sealed class ListAuditEventsTests(IdentityAdminFixture fixture) : IdentityAdminTest(fixture)
{
    private static readonly DateTime Start = new(2025, 3, 1, 12, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task An_admin_reads_events_in_secrets_bridges_shape_newest_first()
    {
        var author = await Fixture.CreateUserAsync();
        await Fixture.ExecuteAsync("UPDATE identity.users SET name = 'Ada Lovelace' WHERE id = @Id", new { author.Id });
        var correlation = Guid.CreateVersion7();
        var agentId = Guid.CreateVersion7();
        var byUser = await InsertAuditAsync(new AuditRow("request.approve", "user", author.Id)
        {
            OccurredAt = Start.AddMinutes(3),
            ActorName = author.Username,
            ResourceType = "request",
            ResourceId = "r-1",
            CorrelationId = correlation,
            Metadata = new { votes = 2 },
        });
        var byAgent = await InsertAuditAsync(new AuditRow("job.claim", "agent", agentId) { OccurredAt = Start.AddMinutes(2), ActorName = "agent-eu-1", ResourceType = "job", ResourceId = "j-1" });
        var bySystem = await InsertAuditAsync(new AuditRow("settings.update", "system") { OccurredAt = Start.AddMinutes(1), ResourceType = "settings" });
        var anonymous = await InsertAuditAsync(new AuditRow("auth.login", "anonymous") { OccurredAt = Start, Result = "denied" });
        var admin = await ClientAsync(BaseRole.Admin);

        var body = await (await admin.GetAsync("/api/v1/audit-events")).ShouldBeJsonAsync();

        var events = body.EnumerateArray().ToList();
        events.Select(item => item.GetProperty("id").GetGuid()).ShouldBe([byUser, byAgent, bySystem, anonymous]);
        events.ShouldAllBe(item => item.PropertyNames().SequenceEqual(
            new[] { "id", "actor", "actor_display", "action", "resource", "status", "correlation_id", "metadata", "occurred_at" }));
        events[0].GetProperty("actor").GetString().ShouldBe($"user:{author.Id}");
        events[0].GetProperty("actor_display").GetString().ShouldBe("Ada Lovelace");
        events[0].GetProperty("action").GetString().ShouldBe("request.approve");
        events[0].GetProperty("resource").GetString().ShouldBe("request:r-1");
        events[0].GetProperty("status").GetString().ShouldBe("success");
        events[0].GetProperty("correlation_id").GetGuid().ShouldBe(correlation);
        events[0].GetProperty("metadata").GetProperty("votes").GetInt32().ShouldBe(2);
        events[0].GetProperty("occurred_at").GetString().ShouldBe("2025-03-01T12:03:00Z");
        (events[1].GetProperty("actor").GetString(), events[1].GetProperty("actor_display").GetString()).ShouldBe(($"agent:{agentId}", "agent-eu-1"));
        (events[2].GetProperty("actor").GetString(), events[2].GetProperty("resource").GetString()).ShouldBe(("system", "settings"));
        (events[3].GetProperty("actor").GetString(), events[3].GetProperty("status").GetString()).ShouldBe(("anonymous", "denied"));
        events[3].GetProperty("resource").ValueKind.ShouldBe(JsonValueKind.Null);
    }

    [Fact]
    public async Task What_the_api_does_shows_up_with_the_caller_as_actor()
    {
        var (admin, adminUser) = await Fixture.ClientAsAsync(BaseRole.Admin);
        var role = await (await admin.PostAsJsonAsync("/api/v1/roles", new { name = "auditors", permissions = new[] { "audit.read" } })).ShouldBeJsonAsync(HttpStatusCode.Created);
        var roleId = role.GetProperty("id").GetGuid();

        var events = await (await admin.GetAsync($"/api/v1/audit-events?resource=role:{roleId}")).ShouldBeJsonAsync();

        var created = events.EnumerateArray().ShouldHaveSingleItem();
        created.GetProperty("action").GetString().ShouldBe("role.create");
        created.GetProperty("actor").GetString().ShouldBe($"user:{adminUser.Id}");
        created.GetProperty("metadata").GetProperty("permissions")[0].GetString().ShouldBe("audit.read");
    }

    [Fact]
    public async Task Each_filter_narrows_the_events()
    {
        var alice = await Fixture.CreateUserAsync();
        var agentId = Guid.CreateVersion7();
        var correlation = Guid.CreateVersion7();
        var a1 = await InsertAuditAsync(new AuditRow("request.submit", "user", alice.Id) { OccurredAt = Start, ResourceType = "request", ResourceId = "r-1", CorrelationId = correlation });
        var a2 = await InsertAuditAsync(new AuditRow("request.approve", "user", alice.Id) { OccurredAt = Start.AddHours(1), ResourceType = "request", ResourceId = "r-2" });
        var g1 = await InsertAuditAsync(new AuditRow("job.claim", "agent", agentId) { OccurredAt = Start.AddHours(2), ResourceType = "job", ResourceId = "j:1", CorrelationId = correlation });
        var s1 = await InsertAuditAsync(new AuditRow("settings.update", "system") { OccurredAt = Start.AddHours(3), ResourceType = "settings" });
        var n1 = await InsertAuditAsync(new AuditRow("auth.login", "anonymous") { OccurredAt = Start.AddHours(4) });
        var admin = await ClientAsync(BaseRole.Admin);

        async Task<List<Guid>> IdsAsync(string query) =>
            [.. (await (await admin.GetAsync($"/api/v1/audit-events?{query}")).ShouldBeJsonAsync()).EnumerateArray().Select(item => item.GetProperty("id").GetGuid())];

        (await IdsAsync($"actor=user:{alice.Id}")).ShouldBe([a2, a1]);
        (await IdsAsync($"actor=agent:{agentId:N}")).ShouldBe([g1]);
        (await IdsAsync("actor=system")).ShouldBe([s1]);
        (await IdsAsync("actor=anonymous")).ShouldBe([n1]);
        (await IdsAsync($"actor=agent:{alice.Id}")).ShouldBeEmpty();
        (await IdsAsync("action=request.approve")).ShouldBe([a2]);
        (await IdsAsync("resource=request:r-1")).ShouldBe([a1]);
        (await IdsAsync("resource=job:j:1")).ShouldBe([g1]);
        (await IdsAsync("resource=settings")).ShouldBe([s1]);
        (await IdsAsync("resource=request")).ShouldBeEmpty();
        (await IdsAsync($"correlation_id={correlation}")).ShouldBe([g1, a1]);
        (await IdsAsync($"correlation_id={correlation:N}")).ShouldBe([g1, a1]);
        (await IdsAsync("since=2025-03-01T13:00:00Z&until=2025-03-01T15:00:00Z")).ShouldBe([g1, a2]);
        (await IdsAsync("since=2025-03-01T15:00:00%2B02:00")).ShouldBe([n1, s1, g1, a2]);
        (await IdsAsync("until=2025-03-01T12:00:00.000000001Z")).ShouldBe([a1]);
        (await IdsAsync("until=2025-03-01T12:00:00Z")).ShouldBeEmpty();
        (await IdsAsync($"actor=user:{alice.Id}&since=2025-03-01T12:30:00Z")).ShouldBe([a2]);
    }

    [Fact]
    public async Task Limit_defaults_to_100_and_is_capped_at_1000()
    {
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.audit_log (id, occurred_at, actor_type, action, correlation_id)
            SELECT platform.uuid_v7(), now() - n * interval '1 second', 'system', 'bulk.thing', platform.uuid_v7()
            FROM generate_series(1, 1001) n
            """);
        var admin = await ClientAsync(BaseRole.Admin);

        (await (await admin.GetAsync("/api/v1/audit-events")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(100);
        (await (await admin.GetAsync("/api/v1/audit-events?limit=3")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(3);
        (await (await admin.GetAsync("/api/v1/audit-events?limit=5000")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1000);
        (await (await admin.GetAsync("/api/v1/audit-events?limit=99999999999999")).ShouldBeJsonAsync()).GetArrayLength().ShouldBe(1000);
    }

    [Theory]
    [InlineData("correlation_id=abc", "correlation_id: invalid uuid")]
    [InlineData("correlation_id=0123456789abcdef0123456789abcdeg", "correlation_id: invalid uuid")]
    [InlineData("since=2025-03-01", "since: expected RFC3339 timestamp")]
    [InlineData("since=yesterday", "since: expected RFC3339 timestamp")]
    [InlineData("until=2025-03-01T12:00:00", "until: expected RFC3339 timestamp")]
    [InlineData("limit=abc", "limit: expected a positive integer")]
    [InlineData("limit=-1", "limit: expected a positive integer")]
    [InlineData("limit=0", "limit: expected a positive integer")]
    [InlineData("limit=1.5", "limit: expected a positive integer")]
    [InlineData("actor=bob", "actor: expected user:<uuid>, agent:<uuid>, system or anonymous")]
    [InlineData("actor=user:bob", "actor: expected user:<uuid>, agent:<uuid>, system or anonymous")]
    [InlineData("actor=team:0191c5c2-0000-7000-8000-000000000000", "actor: expected user:<uuid>, agent:<uuid>, system or anonymous")]
    public async Task Malformed_filters_are_400_in_the_upstreams_words(string query, string message)
    {
        var admin = await ClientAsync(BaseRole.Admin);

        (await (await admin.GetAsync($"/api/v1/audit-events?{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("message").GetString().ShouldBe(message);
    }

    [Fact]
    public async Task Anonymous_is_401_and_an_operator_is_403()
    {
        var operatorClient = await ClientAsync(BaseRole.Operator);

        await (await Client.GetAsync("/api/v1/audit-events")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        (await (await operatorClient.GetAsync("/api/v1/audit-events")).ShouldBeErrorAsync(HttpStatusCode.Forbidden))
            .GetProperty("message").GetString()!.ShouldContain("audit.read");
    }
}
