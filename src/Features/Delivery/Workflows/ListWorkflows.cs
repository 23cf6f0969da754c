using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
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

namespace Capstan.Features.Delivery.Workflows;

/// <summary><c>GET /v1/api/workflows</c> (seed 002): the caller's workflows, paged (<c>page</c>, <c>limit</c> 20),
/// sorted (<c>sort</c> created_at|updated_at|name|status|run_count|last_run_at, <c>order</c>), filtered by
/// <c>search</c> (name, description) and <c>status</c>. The upstream returned every workflow unpaged; the
/// <c>workflows</c> key is kept and the paging fields added.</summary>
public static class ListWorkflows
{
    private static readonly SortWhitelist Sorts = new(
        "created_at",
        OrderDirection.Descending,
        "w.id",
        ("created_at", "w.created_at"),
        ("updated_at", "w.updated_at"),
        ("name", "lower(w.name)"),
        ("status", "w.status"),
        ("run_count", "w.run_count"),
        ("last_run_at", "COALESCE(w.last_run_at, 'epoch'::timestamptz)"));

    private static readonly string[] Statuses = ["draft", "published", "archived"];

    public sealed record Query(string? Search, string? Status, PageRequest Page, SortClause Sort) : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("workflows")] IReadOnlyList<WorkflowView> Workflows,
        [property: JsonPropertyName("total")] long Total,
        [property: JsonPropertyName("page")] int Page,
        [property: JsonPropertyName("limit")] int Limit,
        [property: JsonPropertyName("pagination")] PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Search).MaximumLength(100);
            RuleFor(query => query.Status).Must(status => status is null || Statuses.Contains(status))
                .WithMessage("status must be draft, published or archived");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM delivery.workflows w
            WHERE w.owner_id = @OwnerId AND w.deleted_at IS NULL
              AND (@Search::text IS NULL OR w.name ILIKE @Search OR w.description ILIKE @Search)
              AND (@Status::text IS NULL OR w.status = @Status)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new
            {
                OwnerId = request.RequiredCaller.UserId,
                Search = query.Search is { Length: > 0 } search ? $"%{Like.Escape(search)}%" : null,
                query.Status,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<WorkflowRow>(
                $"SELECT {WorkflowStore.Columns} {Filter} ORDER BY {query.Sort.OrderBy} LIMIT @Limit OFFSET @Offset",
                parameters,
                cancellationToken);
            return new Response([.. rows.Select(row => WorkflowStore.View(row))], total, query.Page.Number, query.Page.Size, PageInfo.Of(query.Page, total));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows", async (string? search, string? status, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(search?.Trim(), status, paging.ToPage(defaultSize: 20, maxSize: 100), paging.ToSort(Sorts)), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListWorkflows))
                .WithTags(DeliveryRoutes.Workflows)
                .WithSummary("List all workflows for the user")
                .ProducesErrors(400, 401, 403);
    }
}
