using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
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

/// <summary><c>POST /api/v1/tasks</c> (seed 004, any role): <c>{name 1..128, description? ≤512, cron (5 fields),
/// timezone ("UTC"), command 1..2048, instanceId? (none: every running instance), template?, timeoutSec 1..3600 (300),
/// maxRetries 0..5 (0), notifyOnFailure, notifyOnSuccess, notifyEmails ≤10}</c> → 201 task, ACTIVE, with its next run.
/// A template (see <c>/tasks/templates</c>) fills the name, description, cron, command and timeout not given. 400 per
/// rule (an invalid cron: <c>details.cron = ["Invalid cron expression"]</c>), 404 unknown instance.</summary>
public static class CreateTask
{
    public sealed record Command(
        string? Name, string? Description, string? Cron, string? Timezone, [property: System.Text.Json.Serialization.JsonPropertyName("command")] string? CommandLine, Guid? InstanceId, string? Template, long? TimeoutSec, long? MaxRetries,
        bool? NotifyOnFailure, bool? NotifyOnSuccess, string[]? NotifyEmails) : ICommand<TaskView>
    {
        internal TaskTemplates.Template? Base => Template is null ? null : TaskTemplates.All.FirstOrDefault(template => template.Key == Template.Trim());
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Template).Must(template => TaskTemplates.All.Any(known => known.Key == template!.Trim())).When(command => command.Template is not null)
                .WithMessage($"template must be one of: {string.Join(", ", TaskTemplates.All.Select(template => template.Key))}").OverridePropertyName("template");
            RuleFor(command => command.Name).NotEmpty().When(command => command.Base is null).WithMessage("name is required").OverridePropertyName("name");
            RuleFor(command => command.Cron).NotEmpty().When(command => command.Base is null).WithMessage("cron is required").OverridePropertyName("cron");
            RuleFor(command => command.CommandLine).NotEmpty().When(command => command.Base is null).WithMessage("command is required").OverridePropertyName("command");
            TaskRules.Apply(
                this, command => command.Name, command => command.Description, command => command.Cron, command => command.Timezone, command => command.CommandLine,
                command => command.TimeoutSec, command => command.MaxRetries, command => command.NotifyEmails);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, TimeProvider clock) : IRequestHandler<Command, TaskView>
    {
        private const string Insert = $"""
            INSERT INTO fleet.scheduled_tasks AS t
                (id, name, description, cron, timezone, command, instance_id, status, template, timeout_sec, max_retries, notify_on_failure, notify_on_success,
                 notify_emails, next_run_at, created_by, created_at, updated_at)
            VALUES (@Id, @Name, @Description, @Cron, @Timezone, @Command, @InstanceId, 'ACTIVE', @Template, @TimeoutSec, @MaxRetries, @NotifyOnFailure, @NotifyOnSuccess,
                    @NotifyEmails, @NextRunAt, @CreatedBy, @Now, @Now)
            RETURNING {TaskView.Columns}
            """;

        public async Task<TaskView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            if (command.InstanceId is { } instance)
            {
                await TaskRules.RequireInstanceAsync(db, caller, instance, cancellationToken);
            }

            var template = command.Base;
            var now = clock.GetUtcNow().UtcDateTime;
            var cron = (command.Cron ?? template!.Cron).Trim();
            var timezone = command.Timezone?.Trim() is { Length: > 0 } zone ? zone : "UTC";
            var task = await db.QuerySingleAsync<TaskView>(
                Insert,
                new
                {
                    Id = Guid.CreateVersion7(),
                    Name = (command.Name ?? template!.Name).Trim(),
                    Description = command.Description ?? template?.Description,
                    Cron = cron,
                    Timezone = timezone,
                    Command = (command.CommandLine ?? template!.Command).Trim(),
                    command.InstanceId,
                    Template = template?.Key,
                    TimeoutSec = command.TimeoutSec ?? template?.TimeoutSec ?? 300,
                    MaxRetries = command.MaxRetries ?? 0,
                    NotifyOnFailure = command.NotifyOnFailure ?? false,
                    NotifyOnSuccess = command.NotifyOnSuccess ?? false,
                    NotifyEmails = command.NotifyEmails ?? [],
                    NextRunAt = TaskSchedule.Next(cron, timezone, now),
                    CreatedBy = caller.UserId,
                    Now = now,
                },
                cancellationToken);
            audit.Record("task.create", "task", task.Id.ToString(), task.Name, new { task.Cron, task.Timezone, task.InstanceId, task.Template });
            return task;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/tasks", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var task = await mediator.Send(command, cancellationToken);
                    return TypedResults.Created($"/api/v1/tasks/{task.Id}", task);
                })
                .RequirePermission(Permissions.TaskManage)
                .WithName(nameof(CreateTask))
                .WithTags(FleetRoutes.Tasks)
                .WithSummary("Create scheduled task")
                .ProducesErrors(400, 401, 403, 404);
    }
}
