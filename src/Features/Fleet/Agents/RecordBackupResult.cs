using System.Text.Json;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Records the agent's <c>backup:result</c> for a backup it was asked to take: <c>in_progress</c>,
/// <c>completed</c> (with size and location) or <c>failed</c> (with the error). No route: the agent socket sends it.</summary>
public static class RecordBackupResult
{
    public static readonly string[] Statuses = ["in_progress", "completed", "failed"];

    [NotAudited("agent report on a backup the API requested (that request was audited)")]
    public sealed record Command(Guid InstanceId, Guid BackupId, string? Status, long? SizeBytes, string? Location, string? Error) : ICommand<bool>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.BackupId).NotEmpty().WithMessage("backup_id must be the id of a requested backup");
            RuleFor(command => command.Status).Must(status => Statuses.Contains(status)).WithMessage("status must be one of: in_progress, completed, failed");
            RuleFor(command => command.SizeBytes).GreaterThanOrEqualTo(0).When(command => command.SizeBytes is not null);
            RuleFor(command => command.Location).MaximumLength(2048);
            RuleFor(command => command.Error).MaximumLength(4096);
        }
    }

    internal sealed class Handler(DbSession db, TimeProvider clock) : IRequestHandler<Command, bool>
    {
        private const string Update = """
            UPDATE fleet.instance_backups
            SET status = @Status, size_bytes = COALESCE(@SizeBytes, size_bytes), location = COALESCE(@Location, location), error = @Error,
                completed_at = CASE WHEN @Status IN ('completed', 'failed') THEN @Now ELSE completed_at END
            WHERE id = @BackupId AND instance_id = @InstanceId AND status IN ('pending', 'in_progress')
            RETURNING label
            """;

        private const string RecordEvent = """
            INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, metadata)
            VALUES (@EventId, @InstanceId, @EventType, @Now, CAST(@Metadata AS jsonb))
            """;

        public async Task<bool> Handle(Command command, CancellationToken cancellationToken)
        {
            var now = clock.GetUtcNow().UtcDateTime;
            var label = await db.QuerySingleOrDefaultAsync<string>(
                Update, new { command.BackupId, command.InstanceId, command.Status, command.SizeBytes, command.Location, command.Error, Now = now }, cancellationToken);
            if (label is null)
            {
                return false;
            }

            if (command.Status is "completed" or "failed")
            {
                await db.ExecuteAsync(
                    RecordEvent,
                    new
                    {
                        EventId = Guid.CreateVersion7(),
                        command.InstanceId,
                        EventType = command.Status == "completed" ? "BACKUP" : "ERROR",
                        Now = now,
                        Metadata = JsonSerializer.Serialize(new { triggered_by = "agent", backupId = command.BackupId, label, status = command.Status, command.SizeBytes, command.Location, command.Error }),
                    },
                    cancellationToken);
            }

            return true;
        }
    }
}
