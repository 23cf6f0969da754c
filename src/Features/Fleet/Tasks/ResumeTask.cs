using Capstan.Infrastructure.Audit;
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

/// <summary><c>POST /api/v1/tasks/{id}/resume</c> (seed 004, any role): restarts the schedule of a PAUSED or DISABLED task (ACTIVE, next run computed from now); resuming an active task is harmless → the task; 404.</summary>
public static class ResumeTask
{
    public sealed record Command(Guid Id) : ICommand<TaskView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, TaskView>
    {
        private const string Current = $"SELECT {TaskView.Columns} FROM fleet.scheduled_tasks t WHERE t.id = @Id AND {TaskRules.Visible} FOR UPDATE OF t";

        private const string Change = $"UPDATE fleet.scheduled_tasks t SET status = 'ACTIVE', next_run_at = @Next, updated_at = @Now WHERE t.id = @Id RETURNING {TaskView.Columns}";

        public async Task<TaskView> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var task = await db.QuerySingleOrDefaultAsync<TaskView>(Current, new { command.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken) ?? throw new NotFoundException("Task not found");
            if (task.Status == "ACTIVE")
            {
                return task;
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var changed = await db.QuerySingleAsync<TaskView>(Change, new { command.Id, Now = now, Next = TaskSchedule.Next(task.Cron, task.Timezone, now) }, cancellationToken);
            audit.Record("task.resume", "task", task.Id.ToString(), task.Name);
            return changed;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/tasks/{id}/resume", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.TaskManage)
                .WithName(nameof(ResumeTask))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("Resume task")
                .ProducesErrors(400, 401, 403, 404);
    }
}
