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

namespace Capstan.Features.Delivery.Builds;

/// <summary><c>GET /v1/api/builds</c> (seed 002): the caller's builds, newest first, paged by <c>limit</c> (20, at most
/// 100) and <c>offset</c>, filtered by <c>status</c> and <c>workflowId</c> → <c>{builds, total, limit, offset}</c>.</summary>
public static class ListBuilds
{
    private static readonly string[] Statuses = ["pending", "cloning", "building", "pushing", "completed", "failed", "cancelled"];

    public sealed record Query(string? Status, Guid? WorkflowId, PageRequest Page) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<BuildView> Builds, long Total, int Limit, int Offset);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Status).Must(status => status is null || Statuses.Contains(status))
            .WithMessage($"status must be one of: {string.Join(", ", Statuses)}");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM delivery.builds b
            WHERE b.user_id = @UserId AND (@Status::text IS NULL OR b.status = @Status) AND (@WorkflowId::uuid IS NULL OR b.workflow_id = @WorkflowId)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new { request.RequiredCaller.UserId, query.Status, query.WorkflowId, Limit = query.Page.Size, query.Page.Offset };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<BuildRow>($"SELECT {BuildRecords.Columns} {Filter} ORDER BY b.created_at DESC, b.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            return new Response([.. rows.Select(BuildRecords.View)], total, query.Page.Size, query.Page.Offset);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/builds", async (string? status, Guid? workflowId, int? limit, int? offset, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(string.IsNullOrWhiteSpace(status) ? null : status.Trim(), workflowId, new PagingQuery { Limit = limit, Offset = offset ?? 0 }.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.DeliveryRead)
                .WithName("Delivery" + nameof(ListBuilds))
                .WithTags(DeliveryRoutes.Builds)
                .WithSummary("List builds for current user")
                .ProducesErrors(400, 401, 403);
    }
}
