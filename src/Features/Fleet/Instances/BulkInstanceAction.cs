using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
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

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>POST /api/v1/instances/bulk-action</c> (seed 004): <c>{instanceIds[1..50], action: suspend|resume|destroy,
/// options?: {backupVolume}}</c>. Each instance moves on its own (state machine, event, audit row); one refusal never
/// fails the others: 200 with a result per instance and a summary.</summary>
public static class BulkInstanceAction
{
    public static readonly string[] BulkActions = ["suspend", "resume", "destroy"];

    public sealed record Options(bool? BackupVolume);

    public sealed record Command(Guid[]? InstanceIds, string? Action, Options? Options) : ICommand<Response>;

    public sealed record Response(string Message, string Action, IReadOnlyList<ItemResult> Results, Summary Summary);

    public sealed record ItemResult(Guid Id, string? Name, bool Success, string? Error, string? NewStatus, Guid? BackupId);

    public sealed record Summary(int Total, int Succeeded, int Failed);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceIds).Cascade(CascadeMode.Stop).NotEmpty().WithMessage("instanceIds must list 1 to 50 instances")
                .Must(ids => ids!.Length <= 50).WithMessage("instanceIds must list 1 to 50 instances")
                .Must(ids => ids!.All(id => id != Guid.Empty)).WithMessage("instanceIds must be instance ids");
            RuleFor(command => command.Action).NotEmpty().Must(action => BulkActions.Contains(action?.Trim().ToLowerInvariant()))
                .WithMessage("action must be one of: suspend, resume, destroy");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string InsertBackup = """
            INSERT INTO fleet.instance_backups (id, instance_id, label, compression, status, requested_by, created_at)
            VALUES (@BackupId, @Id, @Label, 'gzip', 'pending', @ActorId, @Now)
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var actionName = command.Action!.Trim().ToLowerInvariant();
            var action = InstanceLifecycle.Actions[actionName];
            var backup = actionName == "destroy" && command.Options?.BackupVolume == true;
            var now = clock.GetUtcNow().UtcDateTime;
            var results = new List<ItemResult>();
            foreach (var id in command.InstanceIds!.Distinct())
            {
                Guid? backupId = backup ? Guid.CreateVersion7() : null;
                var outcome = await InstanceLifecycle.TryApplyAsync(
                    db, hub, scope, id, action, caller.UserId, now, new Dictionary<string, object?> { ["bulk"] = true, ["backupId"] = backupId }, cancellationToken);
                if (!outcome.Succeeded)
                {
                    results.Add(new ItemResult(id, outcome.Name, false, outcome.Error, null, null));
                    continue;
                }

                if (backupId is { } newBackup)
                {
                    var label = $"backup-{outcome.Name}-{new DateTimeOffset(now).ToUnixTimeMilliseconds()}";
                    await db.ExecuteAsync(InsertBackup, new { BackupId = newBackup, Id = id, Label = label, ActorId = caller.UserId, Now = now }, cancellationToken);
                }

                audit.Record($"instance.{actionName}", "instance", id.ToString(), outcome.Name, new { bulk = true, from = outcome.PreviousStatus, to = outcome.NewStatus });
                results.Add(new ItemResult(id, outcome.Name, true, null, outcome.NewStatus, backupId));
            }

            var succeeded = results.Count(result => result.Success);
            return new Response($"Bulk {actionName} completed", actionName, results, new Summary(results.Count, succeeded, results.Count - succeeded));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/instances/bulk-action", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.InstanceOperate)
                .WithName(nameof(BulkInstanceAction))
                .WithTags(FleetRoutes.Lifecycle)
                .WithSummary("Bulk suspend, resume or destroy")
                .ProducesErrors(400, 401, 403);
    }
}
