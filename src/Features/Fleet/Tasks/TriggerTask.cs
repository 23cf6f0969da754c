using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
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

/// <summary><c>POST /api/v1/tasks/{id}/trigger</c> (seed 004, any role): runs the task now, whatever its schedule or
/// status, as commands to its instance (or every running instance) → 202 with the first execution's fields and all of
/// them in <c>executions</c> (<c>triggeredBy: "manual"</c>); follow them in <c>/history</c>. 404 unknown task; 409 when
/// no agent can take the run (its instance's agent is not connected, or no instance is running).</summary>
public static class TriggerTask
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(
        Guid Id, Guid TaskId, Guid? InstanceId, string? InstanceName, string Status, string TriggeredBy, DateTime StartedAt, Guid? CommandExecutionId,
        IReadOnlyList<TaskExecutionView> Executions);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Find = $"SELECT {TaskRunner.TaskColumns} FROM fleet.scheduled_tasks t WHERE t.id = @Id FOR UPDATE";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var task = await db.QuerySingleOrDefaultAsync<TaskRunner.TaskRow>(Find, new { command.Id }, cancellationToken) ?? throw new NotFoundException("Task not found");
            var now = clock.GetUtcNow().UtcDateTime;
            var runs = await TaskRunner.DispatchAsync(db, hub, task, caller.UserId, "manual", 1, null, now, cancellationToken);
            if (runs.Count == 0)
            {
                throw new ConflictException(task.InstanceId is null ? "No running instance to run the task on" : $"Instance '{task.InstanceId}' not found");
            }

            if (runs.All(run => !run.Dispatched))
            {
                throw new ConflictException(runs.Count == 1 ? $"{runs[0].Error}: the task was not run" : "No agent of the running instances is connected: the task was not run");
            }

            var executions = await db.QueryAsync<TaskExecutionView>(
                $"SELECT {TaskExecutionView.Columns} FROM {TaskExecutionView.From} WHERE x.id = ANY(@Ids) ORDER BY i.name, x.id", new { Ids = runs.Select(run => run.ExecutionId).ToArray() }, cancellationToken);
            audit.Record("task.trigger", "task", task.Id.ToString(), task.Name, new { executions = executions.Count, skipped = runs.Count(run => !run.Dispatched) });
            var first = executions.FirstOrDefault(execution => execution.Status != "SKIPPED") ?? executions[0];
            return new Response(first.Id, task.Id, first.InstanceId, first.InstanceName, first.Status, first.TriggeredBy, first.StartedAt, first.CommandExecutionId, executions);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/tasks/{id}/trigger", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Accepted($"/api/v1/tasks/{id}/history", await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.TaskManage)
                .WithName(nameof(TriggerTask))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("Trigger task manually")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
