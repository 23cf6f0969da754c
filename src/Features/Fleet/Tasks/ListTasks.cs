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

namespace Capstan.Features.Fleet.Tasks;

/// <summary><c>GET /api/v1/tasks?status=&amp;instanceId=&amp;page=&amp;pageSize=</c> (seed 004): tasks, newest first (20 a
/// page, at most 100) → <c>{tasks, data, pagination}</c>.</summary>
public static class ListTasks
{
    public static readonly string[] Statuses = ["ACTIVE", "PAUSED", "DISABLED"];

    public sealed record Query(string? Status, Guid? InstanceId, PageRequest Page) : IQuery<Response>;

    public sealed record Response(IReadOnlyList<TaskView> Tasks, IReadOnlyList<TaskView> Data, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.Status).Must(status => status is null || Statuses.Contains(status.ToUpperInvariant()))
                .WithMessage($"status must be one of: {string.Join(", ", Statuses)}").OverridePropertyName("status");
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM fleet.scheduled_tasks t
            WHERE (@Status::text IS NULL OR t.status = @Status) AND (@InstanceId::uuid IS NULL OR t.instance_id = @InstanceId)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new { Status = query.Status?.ToUpperInvariant(), query.InstanceId, query.Page.Offset, Limit = query.Page.Size };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var tasks = await db.QueryAsync<TaskView>($"SELECT {TaskView.Columns} {Filter} ORDER BY t.created_at DESC, t.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            return new Response(tasks, tasks, PageInfo.Of(query.Page, total));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/tasks", async (string? status, Guid? instanceId, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(status, instanceId, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListTasks))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("List tasks (paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
