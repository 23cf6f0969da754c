using System.Text.Json;
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

/// <summary><c>PUT /api/v1/tasks/{id}</c> (seed 004, any role): a partial change of name, description, cron, timezone,
/// command, instanceId (null: every running instance), timeoutSec, maxRetries and notifications → the task; the next run
/// is recomputed when the schedule changed. 400 per rule, 404 unknown task or instance.</summary>
public static class UpdateTask
{
    public sealed record Command(
        Guid Id, string? Name, string? Description, string? Cron, string? Timezone, string? CommandLine, bool SetsInstance, Guid? InstanceId, long? TimeoutSec,
        long? MaxRetries, bool? NotifyOnFailure, bool? NotifyOnSuccess, string[]? NotifyEmails) : ICommand<TaskView>;

    public sealed record Body(
        string? Name, string? Description, string? Cron, string? Timezone, string? Command, Guid? InstanceId, long? TimeoutSec, long? MaxRetries, bool? NotifyOnFailure,
        bool? NotifyOnSuccess, string[]? NotifyEmails);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() =>
            TaskRules.Apply(
                this, command => command.Name, command => command.Description, command => command.Cron, command => command.Timezone, command => command.CommandLine,
                command => command.TimeoutSec, command => command.MaxRetries, command => command.NotifyEmails);
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, TaskView>
    {
        private const string Current = $"SELECT {TaskView.Columns} FROM fleet.scheduled_tasks t WHERE t.id = @Id FOR UPDATE";

        private const string Update = $"""
            UPDATE fleet.scheduled_tasks t
            SET name = @Name, description = @Description, cron = @Cron, timezone = @Timezone, command = @CommandLine, instance_id = @InstanceId, timeout_sec = @TimeoutSec,
                max_retries = @MaxRetries, notify_on_failure = @NotifyOnFailure, notify_on_success = @NotifyOnSuccess, notify_emails = @NotifyEmails,
                next_run_at = @NextRunAt, updated_at = @Now
            WHERE t.id = @Id
            RETURNING {TaskView.Columns}
            """;

        public async Task<TaskView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var current = await db.QuerySingleOrDefaultAsync<TaskView>(Current, new { command.Id }, cancellationToken) ?? throw new NotFoundException("Task not found");
            var instanceId = command.SetsInstance ? command.InstanceId : current.InstanceId;
            if (command.SetsInstance && instanceId is { } instance)
            {
                await TaskRules.RequireInstanceAsync(db, caller, instance, cancellationToken);
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var cron = command.Cron?.Trim() ?? current.Cron;
            var timezone = command.Timezone?.Trim() ?? current.Timezone;
            var rescheduled = cron != current.Cron || timezone != current.Timezone;
            var task = await db.QuerySingleAsync<TaskView>(
                Update,
                new
                {
                    command.Id,
                    Name = command.Name?.Trim() ?? current.Name,
                    Description = command.Description ?? current.Description,
                    Cron = cron,
                    Timezone = timezone,
                    CommandLine = command.CommandLine?.Trim() ?? current.Command,
                    InstanceId = instanceId,
                    TimeoutSec = command.TimeoutSec ?? current.TimeoutSec,
                    MaxRetries = command.MaxRetries ?? current.MaxRetries,
                    NotifyOnFailure = command.NotifyOnFailure ?? current.NotifyOnFailure,
                    NotifyOnSuccess = command.NotifyOnSuccess ?? current.NotifyOnSuccess,
                    NotifyEmails = command.NotifyEmails ?? current.NotifyEmails,
                    NextRunAt = rescheduled && current.Status == "ACTIVE" ? TaskSchedule.Next(cron, timezone, now) : current.NextRunAt,
                    Now = now,
                },
                cancellationToken);
            audit.Record("task.update", "task", task.Id.ToString(), task.Name, new { task.Cron, task.Timezone, task.InstanceId, rescheduled });
            return task;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPut("/api/v1/tasks/{id}", async (Guid id, JsonElement json, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    if (json.ValueKind != JsonValueKind.Object)
                    {
                        throw BadRequestException.ForField("body", "the body must be a JSON object");
                    }

                    var body = json.Deserialize<Body>(JsonSerializerOptions.Web)!;
                    var command = new Command(
                        id, body.Name, body.Description, body.Cron, body.Timezone, body.Command, json.TryGetProperty("instanceId", out _), body.InstanceId, body.TimeoutSec,
                        body.MaxRetries, body.NotifyOnFailure, body.NotifyOnSuccess, body.NotifyEmails);
                    return TypedResults.Ok(await mediator.Send(command, cancellationToken));
                })
                .Accepts<Body>("application/json")
                .RequirePermission(Permissions.TaskManage)
                .WithName(nameof(UpdateTask))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("Update task")
                .ProducesErrors(400, 401, 403, 404);
    }
}
