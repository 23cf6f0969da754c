using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Paging;

public enum OrderDirection
{
    Ascending,
    Descending,
}

/// <summary>
/// The sort keys a list accepts, each mapped to a fixed SQL expression written by the slice. Input only ever selects
/// one of those constants, so ORDER BY never carries caller text. Keys match case-insensitively and in camelCase or
/// snake_case (<c>createdAt</c> = <c>created_at</c>).
/// </summary>
public sealed class SortWhitelist
{
    private readonly Dictionary<string, (string Key, string Column)> _columns = new(StringComparer.Ordinal);
    private readonly string _defaultKey;
    private readonly OrderDirection _defaultDirection;
    private readonly string _tieBreaker;

    /// <param name="tieBreaker">A unique column appended to every ORDER BY so pages never overlap (usually <c>id</c>).</param>
    public SortWhitelist(string defaultKey, OrderDirection defaultDirection, string tieBreaker, params (string Key, string Column)[] columns)
    {
        foreach (var (key, column) in columns)
        {
            _columns[Normalise(key)] = (key, column);
        }

        if (!_columns.ContainsKey(Normalise(defaultKey)))
        {
            throw new ArgumentException($"Default sort key '{defaultKey}' is not in the whitelist", nameof(defaultKey));
        }

        _defaultKey = defaultKey;
        _defaultDirection = defaultDirection;
        _tieBreaker = tieBreaker;
    }

    public IEnumerable<string> Keys => _columns.Values.Select(entry => entry.Key);

    public SortClause Resolve(string? key, string? direction)
    {
        var chosen = string.IsNullOrWhiteSpace(key) ? _defaultKey : key.Trim();
        if (!_columns.TryGetValue(Normalise(chosen), out var entry))
        {
            throw BadRequestException.ForField("sort", $"sort must be one of: {string.Join(", ", Keys)}");
        }

        var resolvedDirection = direction?.Trim().ToLowerInvariant() switch
        {
            null or "" => _defaultDirection,
            "asc" or "ascending" => OrderDirection.Ascending,
            "desc" or "descending" => OrderDirection.Descending,
            _ => throw BadRequestException.ForField("order", "order must be asc or desc"),
        };

        return new SortClause(entry.Key, entry.Column, resolvedDirection, _tieBreaker);
    }

    private static string Normalise(string key) => key.Replace("_", string.Empty, StringComparison.Ordinal).ToLowerInvariant();
}

/// <summary>A resolved sort: <see cref="OrderBy"/> is built only from the slice's own constants.</summary>
public readonly record struct SortClause(string Key, string Column, OrderDirection Direction, string TieBreaker)
{
    public string OrderBy
    {
        get
        {
            var keyword = Direction == OrderDirection.Ascending ? "ASC" : "DESC";
            return Column == TieBreaker ? $"{Column} {keyword}" : $"{Column} {keyword}, {TieBreaker} {keyword}";
        }
    }
}
