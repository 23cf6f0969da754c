using System.Globalization;
using System.Text.Json;
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
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>POST /api/v1/instances/{id}/backup</c> (seed 004): <c>{label?, compression: none|gzip|zstd}</c> → 202
/// with the pending backup. Allowed while RUNNING or SUSPENDED (409 otherwise); writes a BACKUP event and asks the
/// instance's agent, on whichever replica holds its socket, to take it (<c>backup:request</c>); the agent's
/// <c>backup:result</c> completes the record.</summary>
public static class BackupInstance
{
    public sealed record Body(string? Label, string? Compression);

    public sealed record Command(Guid Id, string? Label, string? Compression) : ICommand<Response>;

    public sealed record Response(string Message, Guid BackupId, Guid InstanceId, string Label, string Compression, string Status, DateTime CreatedAt);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Label).MaximumLength(128).Matches("^[A-Za-z0-9._-]+$").When(command => command.Label is not null)
                .WithMessage("label may contain letters, digits, '.', '_' and '-' (at most 128)");
            RuleFor(command => command.Compression).Must(value => value is "none" or "gzip" or "zstd").When(command => command.Compression is not null)
                .WithMessage("compression must be one of: none, gzip, zstd");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Current = $"""
            SELECT i.id, i.name, i.status FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate} FOR UPDATE
            """;

        private const string Insert = """
            INSERT INTO fleet.instance_backups (id, instance_id, label, compression, status, requested_by, created_at)
            VALUES (@BackupId, @Id, @Label, @Compression, 'pending', @ActorId, @Now);
            INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, actor_id, metadata)
            VALUES (@EventId, @Id, 'BACKUP', @Now, @ActorId, CAST(@Metadata AS jsonb));
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var instance = await db.QuerySingleOrDefaultAsync<InstanceState>(Current, new { command.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.Id}' not found");
            if (!InstanceLifecycle.BackupFrom.Contains(instance.Status))
            {
                throw new ConflictException($"Instance '{instance.Name}' cannot be backed up: current status is {instance.Status}");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var backupId = Guid.CreateVersion7();
            var label = command.Label ?? string.Create(CultureInfo.InvariantCulture, $"backup-{instance.Name}-{new DateTimeOffset(now).ToUnixTimeMilliseconds()}");
            var compression = command.Compression ?? "gzip";
            var metadata = new { triggered_by = "api", backupId, label, compression };
            await db.ExecuteAsync(
                Insert,
                new { BackupId = backupId, command.Id, Label = label, Compression = compression, ActorId = caller.UserId, Now = now, EventId = Guid.CreateVersion7(), Metadata = JsonSerializer.Serialize(metadata) },
                cancellationToken);
            await hub.PublishAsync(db, $"fleet.agent.{command.Id}", new { kind = "backup", backupId, label, compression }, cancellationToken);
            await hub.PublishAsync(db, $"fleet.instances.{command.Id}", new { eventType = "BACKUP", instanceId = command.Id, metadata, ts = now }, cancellationToken);
            audit.Record("instance.backup", "instance", command.Id.ToString(), instance.Name, new { backupId, label, compression });
            return new Response("Volume backup initiated", backupId, command.Id, label, compression, "pending", now);
        }
    }

    internal sealed record InstanceState(Guid Id, string Name, string Status);

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/instances/{id}/backup", async (Guid id, [FromBody] Body? body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Accepted($"/api/v1/instances/{id}", await mediator.Send(new Command(id, body?.Label, body?.Compression), cancellationToken)))
                .RequirePermission(Permissions.InstanceOperate)
                .WithName(nameof(BackupInstance))
                .WithTags(FleetRoutes.Lifecycle)
                .WithSummary("Back up an instance volume")
                .Produces<Response>(StatusCodes.Status202Accepted)
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
