using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Tasks;

/// <summary><c>GET /api/v1/tasks/{id}</c> (seed 004): the task; 404 "Task not found".</summary>
public static class GetTask
{
    public sealed record Query(Guid Id) : IQuery<TaskView>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, TaskView>
    {
        public async Task<TaskView> Handle(Query query, CancellationToken cancellationToken) =>
            await db.QuerySingleOrDefaultAsync<TaskView>($"SELECT {TaskView.Columns} FROM fleet.scheduled_tasks t WHERE t.id = @Id", new { query.Id }, cancellationToken)
                ?? throw new NotFoundException("Task not found");
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/tasks/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetTask))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("Task detail")
                .ProducesErrors(400, 401, 403, 404);
    }
}
