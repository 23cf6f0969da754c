using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Extensions;

/// <summary><c>GET /api/v1/extensions</c> (seed 004): the registry, filtered by <c>category</c>, <c>scope</c>,
/// <c>search</c> (name, display name or description containing it, or an exact tag), <c>isOfficial</c> and <c>tags</c>
/// (comma-separated, any of them); official first, then most downloaded, then by name; paged 50 (at most 500).</summary>
public static class ListExtensions
{
    public sealed record Query(string? Category, string? Scope, string? Search, bool? IsOfficial, string? Tags, PageRequest Page) : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("extensions")] IReadOnlyList<ExtensionView> Extensions,
        [property: JsonPropertyName("data")] IReadOnlyList<ExtensionView> Data,
        [property: JsonPropertyName("total")] long Total,
        [property: JsonPropertyName("page")] int Page,
        [property: JsonPropertyName("pageSize")] int PageSize,
        [property: JsonPropertyName("limit")] int Limit,
        [property: JsonPropertyName("totalPages")] int TotalPages,
        [property: JsonPropertyName("pagination")] PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Scope).Must(scope => FleetVocabulary.IsOneOf(scope, ExtensionRules.Scopes)).When(query => query.Scope is not null)
                .WithMessage($"scope must be one of: {string.Join(", ", ExtensionRules.Scopes)}");
            RuleFor(query => query.Search).MaximumLength(200);
            RuleFor(query => query.Category).MaximumLength(50);
        }
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM fleet.extensions e
            WHERE (@Category::text IS NULL OR e.category = @Category)
              AND (@Scope::text IS NULL OR e.scope = @Scope)
              AND (@IsOfficial::boolean IS NULL OR e.is_official = @IsOfficial)
              AND (@Search::text IS NULL OR e.name ILIKE @Pattern ESCAPE '\' OR e.display_name ILIKE @Pattern ESCAPE '\'
                   OR e.description ILIKE @Pattern ESCAPE '\' OR @Search = ANY(e.tags))
              AND (cardinality(@Tags::text[]) = 0 OR e.tags && @Tags)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var search = string.IsNullOrWhiteSpace(query.Search) ? null : query.Search.Trim();
            var parameters = new
            {
                Category = string.IsNullOrWhiteSpace(query.Category) ? null : query.Category.Trim(),
                Scope = query.Scope?.Trim().ToUpperInvariant(),
                query.IsOfficial,
                Search = search,
                Pattern = search is null ? null : "%" + search.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal) + "%",
                Tags = string.IsNullOrWhiteSpace(query.Tags) ? [] : query.Tags.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<ExtensionRow>(
                $"SELECT {ExtensionRow.Columns} {Filter} ORDER BY e.is_official DESC, e.download_count DESC, e.name LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            var extensions = rows.Select(row => row.ToView()).ToList();
            var page = PageInfo.Of(query.Page, total);
            return new Response(extensions, extensions, total, page.Page, page.PageSize, page.Limit, page.TotalPages, page);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/extensions",
                    async (string? category, string? scope, string? search, bool? isOfficial, string? tags, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(category, scope, search, isOfficial, tags, paging.ToPage(defaultSize: 50, maxSize: 500)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListExtensions))
                .WithTags(FleetRoutes.Extensions)
                .WithSummary("List and search the extension registry")
                .ProducesErrors(400, 401, 403);
    }
}
