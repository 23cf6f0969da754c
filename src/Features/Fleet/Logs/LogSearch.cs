using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Paging;

namespace Capstan.Features.Fleet.Logs;

/// <summary>
/// The log query behind <c>GET /logs</c> and <c>GET /instances/{id}/logs</c>: level and source filters (comma-separated),
/// deployment, time range, and search that is real full text (the <c>english</c> tsvector with its GIN index, web-search
/// syntax) or, for fragments full text cannot match, a substring (ILIKE served by the trigram index). Newest first.
/// Pages by <c>page</c>/<c>limit</c>, or by keyset with <c>cursor</c> (each page's <c>nextCursor</c>), which stays fast
/// however deep it goes. Totals are exact up to <see cref="CountLimit"/> matches and say so (<c>totalExact</c>).
/// </summary>
internal static class LogSearch
{
    public const int DefaultPageSize = 50;
    public const int MaxPageSize = 500;

    /// <summary>Totals are counted up to this many matches; past it <c>pagination.total</c> is this number and
    /// <c>totalExact</c> false (page on with <c>nextCursor</c>).</summary>
    public const int CountLimit = 1000;

    private const string Filter = $"""
        FROM fleet.logs l
        WHERE (@SeesAllTeams OR EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = l.instance_id AND {FleetVisibility.Predicate}))
          AND (@InstanceId::uuid IS NULL OR l.instance_id = @InstanceId)
          AND (cardinality(@Levels) = 0 OR l.level = ANY(@Levels))
          AND (cardinality(@Sources) = 0 OR l.source = ANY(@Sources))
          AND (@DeploymentId::uuid IS NULL OR l.deployment_id = @DeploymentId)
          AND (@From::timestamptz IS NULL OR l.logged_at >= @From)
          AND (@To::timestamptz IS NULL OR l.logged_at <= @To)
          AND (@Search::text IS NULL OR l.search_vector @@ websearch_to_tsquery('english', @Search) OR l.message ILIKE @Like)
        """;

    public sealed record Criteria(
        Guid? InstanceId, string[] Levels, string[] Sources, Guid? DeploymentId, string? Search, DateTimeOffset? From, DateTimeOffset? To);

    public sealed record Position(DateTime At, Guid Id);

    public sealed record Page(IReadOnlyList<LogView> Logs, PageInfo Pagination, string? NextCursor, bool TotalExact);

    public static async Task<Page> RunAsync(
        DbSession db, FleetVisibility.TeamScope scope, Criteria criteria, PageRequest page, string? cursor, CancellationToken cancellationToken)
    {
        var position = KeysetCursor.Decode<Position>(cursor);
        var search = string.IsNullOrWhiteSpace(criteria.Search) ? null : criteria.Search.Trim();
        var parameters = new
        {
            scope.SeesAllTeams,
            scope.TeamIds,
            criteria.InstanceId,
            criteria.Levels,
            criteria.Sources,
            criteria.DeploymentId,
            From = criteria.From?.UtcDateTime,
            To = criteria.To?.UtcDateTime,
            Search = search,
            Like = search is null ? null : $"%{EscapeLike(search)}%",
            At = position?.At,
            After = position?.Id ?? Guid.Empty,
            Offset = position is null ? page.Offset : 0,
            Take = page.Size + 1,
        };
        // Counting every match of a common word over millions of lines costs more than the page itself: the count stops
        // at CountLimit, and the answer says whether its total is exact.
        var counted = await db.ExecuteScalarAsync<long>($"SELECT count(*) FROM (SELECT 1 {Filter} LIMIT {CountLimit + 1}) matches", parameters, cancellationToken);
        var rows = await db.QueryAsync<LogRow>(
            $"""
            SELECT {LogRow.Columns}
            {Filter}
              AND (@At::timestamptz IS NULL OR (l.logged_at, l.id) < (@At, @After))
            ORDER BY l.logged_at DESC, l.id DESC
            LIMIT @Take OFFSET @Offset
            """,
            parameters,
            cancellationToken);
        var logs = rows.Take(page.Size).Select(row => row.ToView()).ToList();
        var next = rows.Count > page.Size ? KeysetCursor.Encode(new Position(logs[^1].Timestamp, logs[^1].Id)) : null;
        var total = Math.Min(counted, CountLimit);
        return new Page(logs, PageInfo.Of(page, total) with { HasMore = rows.Count > page.Size }, next, counted <= CountLimit);
    }

    private static string EscapeLike(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
}
