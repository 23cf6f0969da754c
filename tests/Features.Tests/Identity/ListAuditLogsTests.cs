using Capstan.Features.Identity;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Identity;

public sealed class ListAuditLogsTests(IdentityAdminHandlerFixture fixture) : IdentityAdminHandlerTest(fixture)
{
    private static readonly DateTime Start = new(2025, 6, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task Keyset_pages_continue_where_the_cursor_ends_and_offset_is_ignored_with_a_cursor()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Insert(0, await InsertAuditAsync(Start.AddMinutes(i)));
        }

        var first = await Fixture.SendAsAsync(admin, Query(new PageRequest(0, 2)));
        var second = await Fixture.SendAsAsync(admin, Query(new PageRequest(40, 2)) with { Cursor = first.NextCursor });
        var third = await Fixture.SendAsAsync(admin, Query(new PageRequest(0, 2)) with { Cursor = second.NextCursor });

        first.Logs.Select(log => log.Id).ShouldBe(ids.Take(2));
        second.Logs.Select(log => log.Id).ShouldBe(ids.Skip(2).Take(2));
        third.Logs.Select(log => log.Id).ShouldBe(ids.Skip(4));
        (first.Pagination.HasMore, second.Pagination.HasMore, third.Pagination.HasMore).ShouldBe((true, true, false));
        third.NextCursor.ShouldBeNull();
        third.Pagination.Total.ShouldBe(5);
    }

    [Fact]
    public async Task The_user_filter_matches_only_rows_where_that_user_acted()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var alice = await Fixture.CreateUserAsync();
        var asUser = await InsertAuditAsync(Start, actorType: "user", actorId: alice.Id);
        await InsertAuditAsync(Start, actorType: "agent", actorId: alice.Id);

        var result = await Fixture.SendAsAsync(admin, Query(new PageRequest(0, 50)) with { UserId = alice.Id.ToString() });

        result.Logs.ShouldHaveSingleItem().Id.ShouldBe(asUser);
        result.Logs[0].UserName.ShouldBe(alice.Username);
    }

    [Fact]
    public async Task A_team_scoped_entry_written_through_the_trail_is_found_by_its_team()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var team = Guid.CreateVersion7();
        await Fixture.WithScopeAsync(async scope =>
        {
            scope.GetRequiredService<RequestContext>().Caller = admin.AsCaller();
            await scope.GetRequiredService<AuditTrail>().WriteNowAsync(new AuditEntry("team.member.add", "team", team.ToString()) { TeamId = team }, default);
            return true;
        });
        await InsertAuditAsync(DateTime.UtcNow);

        var result = await Fixture.SendAsAsync(admin, Query(new PageRequest(0, 50)) with { TeamId = team.ToString() });

        var log = result.Logs.ShouldHaveSingleItem();
        (log.Action, log.TeamId, log.UserId).ShouldBe(("team.member.add", team, admin.Id));
    }

    [Fact]
    public async Task A_forged_cursor_is_a_bad_request_and_an_inverted_range_fails_validation()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, Query(new PageRequest(0, 2)) with { Cursor = "eyJ4IjoxfQ" }));
        (await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, Query(new PageRequest(0, 2)) with { From = "2025-02-01", To = "2025-01-01" })))
            .Errors.ShouldHaveSingleItem().PropertyName.ShouldBe("from");
    }

    [Theory]
    [InlineData("2025-06-01", "2025-06-01T00:00:00.0000000Z")]
    [InlineData("2025-06-01T02:30:00+02:00", "2025-06-01T00:30:00.0000000Z")]
    [InlineData("2025-06-01T10:00:00.123Z", "2025-06-01T10:00:00.1230000Z")]
    public void Times_are_read_as_utc(string value, string utc) =>
        ListAuditLogs.ParseTime(value)!.Value.ToString("O", System.Globalization.CultureInfo.InvariantCulture).ShouldBe(utc);

    private static ListAuditLogs.Query Query(PageRequest page) => new(null, null, null, null, null, null, null, null, page);
}
