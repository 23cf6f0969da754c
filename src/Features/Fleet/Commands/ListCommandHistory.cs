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

namespace Capstan.Features.Fleet.Commands;

/// <summary><c>GET /api/v1/commands/history</c> (seed 004): command executions on instances the caller may see,
/// newest first, filtered by <c>instanceId</c>, <c>status</c> (PENDING, RUNNING, SUCCEEDED, FAILED, TIMEOUT),
/// <c>userId</c> and <c>batchId</c>; paged with <c>page</c> and <c>limit</c>/<c>pageSize</c> (20, at most 100).</summary>
public static class ListCommandHistory
{
    public sealed record Query(Guid? InstanceId, string? Status, Guid? UserId, Guid? BatchId, PageRequest Page) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<ExecutionView> Executions, IReadOnlyList<ExecutionView> Data, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.Status).Must(status => FleetVocabulary.IsOneOf(status, FleetVocabulary.CommandStatuses))
                .When(query => query.Status is not null).WithMessage($"status must be one of: {string.Join(", ", FleetVocabulary.CommandStatuses)}");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM fleet.command_executions c
            JOIN fleet.instances i ON i.id = c.instance_id
            WHERE {FleetVisibility.Predicate}
              AND (@InstanceId::uuid IS NULL OR c.instance_id = @InstanceId)
              AND (@Status::text IS NULL OR c.status = @Status)
              AND (@UserId::uuid IS NULL OR c.user_id = @UserId)
              AND (@BatchId::uuid IS NULL OR c.batch_id = @BatchId)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var parameters = new
            {
                scope.SeesAllTeams,
                scope.TeamIds,
                query.InstanceId,
                Status = query.Status?.Trim().ToUpperInvariant(),
                query.UserId,
                query.BatchId,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<ExecutionRow>(
                $"""
                SELECT {ExecutionRow.Columns}
                {Filter}
                ORDER BY c.created_at DESC, c.id DESC
                LIMIT @Limit OFFSET @Offset
                """,
                parameters,
                cancellationToken);
            var executions = rows.Select(row => row.ToView()).ToList();
            return new Response(executions, executions, PageInfo.Of(query.Page, total));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/commands/history",
                    async (Guid? instanceId, string? status, Guid? userId, Guid? batchId, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(instanceId, status, userId, batchId, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListCommandHistory))
                .WithTags(FleetRoutes.Commands)
                .WithSummary("Command execution history (paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
