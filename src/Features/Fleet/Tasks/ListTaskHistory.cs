using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
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

namespace Capstan.Features.Fleet.Tasks;

/// <summary><c>GET /api/v1/tasks/{id}/history?status=&amp;page=&amp;pageSize=</c> (seed 004): the task's runs, newest first
/// (20 a page, at most 100), each with its command's outcome → <c>{executions, data, pagination}</c>; 404 unknown
/// task.</summary>
public static class ListTaskHistory
{
    public static readonly string[] Statuses = ["PENDING", "RUNNING", "SUCCESS", "FAILED", "SKIPPED", "TIMED_OUT"];

    public sealed record Query(Guid Id, string? Status, PageRequest Page) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<TaskExecutionView> Executions, IReadOnlyList<TaskExecutionView> Data, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.Status).Must(status => status is null || Statuses.Contains(status.ToUpperInvariant()))
                .WithMessage($"status must be one of: {string.Join(", ", Statuses)}").OverridePropertyName("status");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM {TaskExecutionView.From}
            WHERE x.task_id = @Id AND (@Status::text IS NULL OR ({TaskExecutionView.StatusExpression}) = @Status)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            if (!await db.ExecuteScalarAsync<bool>("SELECT EXISTS (SELECT 1 FROM fleet.scheduled_tasks WHERE id = @Id)", new { query.Id }, cancellationToken))
            {
                throw new NotFoundException("Task not found");
            }

            var parameters = new { query.Id, Status = query.Status?.ToUpperInvariant(), query.Page.Offset, Limit = query.Page.Size };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var executions = await db.QueryAsync<TaskExecutionView>(
                $"SELECT {TaskExecutionView.Columns} {Filter} ORDER BY x.started_at DESC, x.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            return new Response(executions, executions, PageInfo.Of(query.Page, total));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/tasks/{id}/history", async (Guid id, string? status, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id, status, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListTaskHistory))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("Execution history (paginated)")
                .ProducesErrors(400, 401, 403, 404);
    }
}
