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

/// <summary><c>DELETE /api/v1/tasks/{id}</c> (seed 004, any role): deletes the task and its history (the commands it ran
/// stay in the command history) → <c>{message: "Task deleted", id, name}</c>; 404.</summary>
public static class DeleteTask
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    public sealed record Response(string Message, Guid Id, string Name);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var name = await db.QuerySingleOrDefaultAsync<string>("DELETE FROM fleet.scheduled_tasks WHERE id = @Id RETURNING name", new { command.Id }, cancellationToken)
                ?? throw new NotFoundException("Task not found");
            audit.Record("task.delete", "task", command.Id.ToString(), name);
            return new Response("Task deleted", command.Id, name);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/tasks/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) => TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.TaskManage)
                .WithName(nameof(DeleteTask))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("Delete task")
                .ProducesErrors(400, 401, 403, 404);
    }
}
