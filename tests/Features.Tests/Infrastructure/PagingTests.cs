using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;

namespace Capstan.Features.Tests.Infrastructure;

public sealed class PagingTests
{
    private static readonly SortWhitelist Whitelist = new(
        "createdAt", OrderDirection.Descending, "id", ("name", "i.name"), ("createdAt", "i.created_at"), ("id", "id"));

    [Fact]
    public void Page_info_carries_both_spellings_and_the_totals()
    {
        var info = PageInfo.Of(new PagingQuery { Page = 2, PageSize = 20 }.ToPage(), total: 45);

        info.ShouldBe(new PageInfo(Page: 2, Limit: 20, PageSize: 20, Offset: 20, Total: 45, TotalPages: 3, HasMore: true));
        PageInfo.Of(new PageRequest(40, 20), 45).HasMore.ShouldBeFalse();
        PageInfo.Of(new PageRequest(0, 20), 0).TotalPages.ShouldBe(0);
    }

    [Fact]
    public void Limit_wins_over_page_size_and_offset_over_page()
    {
        new PagingQuery { Limit = 10, PageSize = 99, Page = 5, Offset = 3 }.ToPage().ShouldBe(new PageRequest(3, 10));
    }

    [Fact]
    public void Sizes_outside_the_bounds_name_the_parameter_the_caller_used()
    {
        var error = Should.Throw<BadRequestException>(() => new PagingQuery { PageSize = 501 }.ToPage());

        error.Details!.Keys.ShouldBe(["pageSize"]);
        error.Message.ShouldBe("pageSize must be between 1 and 500");
    }

    [Theory]
    [InlineData(null, null, "i.created_at DESC, id DESC")]
    [InlineData("name", "asc", "i.name ASC, id ASC")]
    [InlineData("NAME", "DESC", "i.name DESC, id DESC")]
    [InlineData("created_at", "ascending", "i.created_at ASC, id ASC")]
    [InlineData("id", "asc", "id ASC")]
    public void Sort_resolves_to_the_slice_constants(string? key, string? direction, string orderBy)
    {
        Whitelist.Resolve(key, direction).OrderBy.ShouldBe(orderBy);
    }

    [Fact]
    public void Unknown_sort_key_lists_the_allowed_ones()
    {
        var error = Should.Throw<BadRequestException>(() => Whitelist.Resolve("password_hash", null));

        error.Message.ShouldBe("sort must be one of: name, createdAt, id");
    }

    [Fact]
    public void A_default_key_outside_the_whitelist_is_a_programming_error()
    {
        Should.Throw<ArgumentException>(() => new SortWhitelist("missing", OrderDirection.Ascending, "id", ("name", "name")));
    }

    private sealed record Position(DateTime CreatedAt, Guid Id);

    [Fact]
    public void Cursor_round_trips_and_rejects_what_it_did_not_issue()
    {
        var position = new Position(new DateTime(2026, 11, 22, 10, 0, 0, DateTimeKind.Utc), Guid.CreateVersion7());
        var cursor = KeysetCursor.Encode(position);

        KeysetCursor.Decode<Position>(cursor).ShouldBe(position);
        KeysetCursor.Decode<Position>(null).ShouldBeNull();
        Should.Throw<BadRequestException>(() => KeysetCursor.Decode<Position>("not a cursor!")).Details!.Keys.ShouldBe(["cursor"]);
        Should.Throw<BadRequestException>(() => KeysetCursor.Decode<Position>(new string('A', 2000)));
        Should.Throw<BadRequestException>(() => KeysetCursor.Decode<Position>("bnVsbA", "after")).Details!.Keys.ShouldBe(["after"]);
    }
}
