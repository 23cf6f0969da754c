using Capstan.Features.Identity;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Identity;

public sealed class ListAuditEventsTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    [Theory]
    [InlineData("system", "system", false)]
    [InlineData("anonymous", "anonymous", false)]
    [InlineData("user:0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", "user", true)]
    [InlineData("agent:0197a1b2c3d47e5f8a9b0c1d2e3f4a5b", "agent", true)]
    public void Actors_parse_into_type_and_id(string actor, string type, bool hasId)
    {
        var parsed = ListAuditEvents.ParseActor(actor)!;

        parsed.Type.ShouldBe(type);
        (parsed.Id is not null).ShouldBe(hasId);
    }

    [Theory]
    [InlineData("user")]
    [InlineData("user:")]
    [InlineData("System")]
    [InlineData("admin")]
    [InlineData("user:{0197a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b}")]
    [InlineData("system:bootstrap")]
    public void Other_actor_spellings_are_refused(string actor) => ListAuditEvents.ParseActor(actor).ShouldBeNull();

    [Theory]
    [InlineData("2025-03-01T12:00:00Z", "2025-03-01T12:00:00.0000000Z")]
    [InlineData("2025-03-01t12:00:00z", "2025-03-01T12:00:00.0000000Z")]
    [InlineData("2025-03-01T14:00:00+02:00", "2025-03-01T12:00:00.0000000Z")]
    [InlineData("2025-03-01T12:00:00.123456Z", "2025-03-01T12:00:00.1234560Z")]
    [InlineData("2025-03-01T12:00:00.123456001Z", "2025-03-01T12:00:00.1234570Z")]
    [InlineData("2025-03-01T12:00:00.5Z", "2025-03-01T12:00:00.5000000Z")]
    public void Rfc3339_times_round_up_to_the_microsecond(string value, string utc) =>
        ListAuditEvents.ParseRfc3339(value)!.Value.ToString("O", System.Globalization.CultureInfo.InvariantCulture).ShouldBe(utc);

    [Theory]
    [InlineData("2025-03-01")]
    [InlineData("2025-03-01 12:00:00Z")]
    [InlineData("2025-03-01T12:00:00")]
    [InlineData("2025-02-30T12:00:00Z")]
    [InlineData("2025-03-01T12:00:00.1234567890Z")]
    public void Other_time_forms_are_refused(string value) => ListAuditEvents.ParseRfc3339(value).ShouldBeNull();

    [Theory]
    [InlineData(null, 100)]
    [InlineData("1", 1)]
    [InlineData("1000", 1000)]
    [InlineData("1001", 1000)]
    [InlineData("99999999999", 1000)]
    [InlineData("0", null)]
    [InlineData("-3", null)]
    [InlineData("+3", null)]
    [InlineData("3.0", null)]
    public void Limits_default_cap_and_refuse(string? value, int? limit) => ListAuditEvents.ParseLimit(value).ShouldBe(limit);

    [Fact]
    public async Task Events_come_newest_first_with_user_display_names()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var now = DateTime.UtcNow;
        var older = await InsertAuditAsync(now.AddMinutes(-2), actorType: "user", actorId: admin.Id, resourceType: "thing");
        var newer = await InsertAuditAsync(now.AddMinutes(-1));

        var events = await Fixture.SendAsAsync(admin, new ListAuditEvents.Query(null, null, null, null, null, null, null));

        events.Select(item => item.Id).ShouldBe([newer, older]);
        events[1].Actor.ShouldBe($"user:{admin.Id}");
        events[1].ActorDisplay.ShouldBe(admin.Username);
        events[1].Resource.ShouldBe("thing");
        events[0].Actor.ShouldBe("system");
        events[0].Resource.ShouldBeNull();
    }
}
