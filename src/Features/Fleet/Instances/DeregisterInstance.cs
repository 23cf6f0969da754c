using System.Globalization;
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
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>DELETE /api/v1/instances/{id}</c> (seed 004, listed as "deregister" and as "destroy (optional
/// backup)"): the instance stops reporting and becomes STOPPED, keeping its record and history (the upstream's destroy
/// without teardown); its agent socket is closed. The optional body <c>{backupVolume, backupLabel}</c> records a
/// backup first. Full destruction (→ DESTROYED) is the <c>destroy</c> bulk action. 409 when the status does not
/// allow it (already STOPPED, DEPLOYING, DESTROYED).</summary>
public static class DeregisterInstance
{
    public sealed record Body(bool? BackupVolume, string? BackupLabel);

    public sealed record Command(Guid Id, bool BackupVolume, string? BackupLabel) : ICommand<Response>;

    public sealed record Response(string Message, Guid Id, string Name, string Status, Guid? BackupId);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.BackupLabel).MaximumLength(128).Matches("^[A-Za-z0-9._-]+$").When(command => command.BackupLabel is not null)
                .WithMessage("backupLabel may contain letters, digits, '.', '_' and '-' (at most 128)");
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
            var now = clock.GetUtcNow().UtcDateTime;
            Guid? backupId = command.BackupVolume ? Guid.CreateVersion7() : null;
            var outcome = await InstanceLifecycle.ApplyAsync(
                db, hub, FleetVisibility.Of(caller), command.Id, InstanceLifecycle.Actions["deregister"], caller.UserId, now,
                new Dictionary<string, object?> { ["mode"] = "deregister", ["backupId"] = backupId }, cancellationToken);
            if (backupId is { } id)
            {
                var label = command.BackupLabel ?? string.Create(CultureInfo.InvariantCulture, $"backup-{outcome.Name}-{new DateTimeOffset(now).ToUnixTimeMilliseconds()}");
                await db.ExecuteAsync(InsertBackup, new { BackupId = id, command.Id, Label = label, ActorId = caller.UserId, Now = now }, cancellationToken);
                await hub.PublishAsync(db, $"fleet.agent.{command.Id}", new { kind = "backup", backupId = id, label, compression = "gzip" }, cancellationToken);
            }

            audit.Record("instance.deregister", "instance", command.Id.ToString(), outcome.Name, new { from = outcome.PreviousStatus, backupId });
            return new Response("Instance deregistered", command.Id, outcome.Name!, outcome.NewStatus!, backupId);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/instances/{id}", async (Guid id, [FromBody] Body? body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id, body?.BackupVolume ?? false, body?.BackupLabel), cancellationToken)))
                .RequirePermission(Permissions.InstanceOperate)
                .WithName(nameof(DeregisterInstance))
                .WithTags(FleetRoutes.Instances)
                .WithSummary("Deregister an instance (optionally backing up its volume first)")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
