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

namespace Capstan.Features.Fleet.Templates;

/// <summary><c>GET /api/v1/templates</c> (seed 004): templates, official first then newest, filtered by
/// <c>category</c>, <c>isOfficial</c>, <c>provider</c> (recommended for it) and <c>search</c> (name, slug,
/// description); paged with <c>page</c> and <c>limit</c>/<c>pageSize</c> (20, at most 100).</summary>
public static class ListTemplates
{
    public sealed record Query(string? Category, bool? IsOfficial, string? Provider, string? Search, PageRequest Page) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<TemplateView> Templates, IReadOnlyList<TemplateView> Data, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Category).MaximumLength(64);
            RuleFor(query => query.Provider).MaximumLength(32);
            RuleFor(query => query.Search).MaximumLength(128);
        }
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM fleet.deployment_templates t
            WHERE (@Category::text IS NULL OR t.category = @Category)
              AND (@IsOfficial::boolean IS NULL OR t.is_official = @IsOfficial)
              AND (@Provider::text IS NULL OR @Provider = ANY(t.provider_recommendations))
              AND (@Search::text IS NULL OR t.name ILIKE @Search OR t.slug ILIKE @Search OR t.description ILIKE @Search)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new
            {
                Category = string.IsNullOrWhiteSpace(query.Category) ? null : query.Category.Trim(),
                query.IsOfficial,
                Provider = query.Provider?.Trim().ToLowerInvariant(),
                Search = string.IsNullOrWhiteSpace(query.Search) ? null : $"%{query.Search.Trim().Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal)}%",
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var templates = await db.QueryAsync<TemplateView>(
                $"SELECT {TemplateColumns.All} {Filter} ORDER BY t.is_official DESC, t.created_at DESC, t.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            return new Response(templates, templates, PageInfo.Of(query.Page, total));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/templates",
                    async (string? category, bool? isOfficial, string? provider, string? search, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(category, isOfficial, provider, search, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListTemplates))
                .WithTags(FleetRoutes.Templates)
                .WithSummary("List deployment templates (filterable, paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
