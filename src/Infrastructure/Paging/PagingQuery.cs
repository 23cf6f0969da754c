using System.Globalization;
using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Paging;

/// <summary>
/// Paging and sorting parameters in every spelling the seeds and their clients use: <c>page</c> with <c>limit</c> or
/// <c>pageSize</c>, or <c>offset</c> with <c>limit</c>; <c>sort</c>/<c>sortBy</c> and <c>order</c>/<c>sortOrder</c>.
/// Bind it in a route with <c>[AsParameters]</c>.
/// </summary>
public sealed class PagingQuery
{
    public int? Page { get; set; }

    public int? Limit { get; set; }

    public int? PageSize { get; set; }

    public int? Offset { get; set; }

    public string? Sort { get; set; }

    public string? SortBy { get; set; }

    public string? Order { get; set; }

    public string? SortOrder { get; set; }

    /// <summary>The page asked for; out-of-range values are a 400 naming the parameter, never silently clamped.</summary>
    public PageRequest ToPage(int defaultSize = 50, int maxSize = 500)
    {
        var size = Limit ?? PageSize ?? defaultSize;
        var sizeName = Limit is not null ? "limit" : "pageSize";
        if (size < 1 || size > maxSize)
        {
            throw BadRequestException.ForField(sizeName, string.Create(CultureInfo.InvariantCulture, $"{sizeName} must be between 1 and {maxSize}"));
        }

        if (Offset is { } offset)
        {
            if (offset < 0)
            {
                throw BadRequestException.ForField("offset", "offset must be 0 or more");
            }

            return new PageRequest(offset, size);
        }

        var page = Page ?? 1;
        if (page < 1 || page > 1_000_000)
        {
            throw BadRequestException.ForField("page", "page must be between 1 and 1000000");
        }

        return new PageRequest((page - 1) * size, size);
    }

    public SortClause ToSort(SortWhitelist whitelist) => whitelist.Resolve(Sort ?? SortBy, Order ?? SortOrder);
}

/// <summary>A window of a list: skip <see cref="Offset"/> rows, take <see cref="Size"/>.</summary>
public readonly record struct PageRequest(int Offset, int Size)
{
    /// <summary>1-based page number the offset falls in.</summary>
    public int Number => (Offset / Size) + 1;
}

/// <summary>The paging block of a list response, carrying both the seed's and the upstream clients' names.</summary>
public sealed record PageInfo(int Page, int Limit, int PageSize, int Offset, long Total, int TotalPages, bool HasMore)
{
    public static PageInfo Of(PageRequest request, long total) => new(
        request.Number,
        request.Size,
        request.Size,
        request.Offset,
        total,
        (int)Math.Ceiling(total / (double)request.Size),
        request.Offset + request.Size < total);
}
