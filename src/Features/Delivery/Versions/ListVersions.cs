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

namespace Capstan.Features.Delivery.Versions;

/// <summary><c>GET /v1/api/workflows/{id}/versions?page=&amp;limit=</c> (seed 002): the workflow's versions, newest
/// first, paged (<c>limit</c> 1–50, default 10) → <c>{versions, total, page, limit, pagination}</c>.</summary>
public static class ListVersions
{
    public sealed record Query(Guid Id, PageRequest Page) : IQuery<Response>;

    public sealed record Response(
        [property: JsonPropertyName("versions")] IReadOnlyList<VersionView> Versions,
        [property: JsonPropertyName("total")] long Total,
        [property: JsonPropertyName("page")] int Page,
        [property: JsonPropertyName("limit")] int Limit,
        [property: JsonPropertyName("pagination")] PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            await WorkflowStore.GetOwnedAsync(db, query.Id, request.RequiredCaller.UserId, cancellationToken);
            var total = await db.ExecuteScalarAsync<long>("SELECT count(*) FROM delivery.workflow_versions WHERE workflow_id = @Id", new { query.Id }, cancellationToken);
            var rows = await db.QueryAsync<VersionRow>(
                $"SELECT {WorkflowVersions.Columns} FROM delivery.workflow_versions v WHERE v.workflow_id = @Id ORDER BY v.version DESC LIMIT @Limit OFFSET @Offset",
                new { query.Id, Limit = query.Page.Size, query.Page.Offset },
                cancellationToken);
            return new Response([.. rows.Select(row => WorkflowVersions.View(row))], total, query.Page.Number, query.Page.Size, PageInfo.Of(query.Page, total));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/workflows/{id}/versions", async (Guid id, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, paging.ToPage(defaultSize: 10, maxSize: 50)), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListVersions))
                .WithTags(DeliveryRoutes.Versions)
                .WithSummary("List versions (paginated)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
