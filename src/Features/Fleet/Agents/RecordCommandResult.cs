using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Completes a command execution with the agent's <c>command:result</c>: exit code 0 is SUCCEEDED, anything
/// else (or an agent-side error) FAILED; output is kept up to 1 MiB per stream. Only a still-running execution of the
/// same instance changes (a late answer after a TIMEOUT is ignored). Raises <c>fleet.commands.&lt;id&gt;</c> so the
/// waiting request, on any replica, answers at once. No route: the agent socket sends it.</summary>
public static class RecordCommandResult
{
    public const int MaxOutputChars = 1 << 20;

    [NotAudited("agent report; the execution itself was audited when dispatched")]
    public sealed record Command(Guid InstanceId, Guid ExecutionId, long? ExitCode, string? Stdout, string? Stderr, long? DurationMs, string? Error) : ICommand<bool>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.ExecutionId).NotEmpty().WithMessage("command_id must be the id of a dispatched command");
            RuleFor(command => command.DurationMs).GreaterThanOrEqualTo(0).When(command => command.DurationMs is not null);
        }
    }

    internal sealed class Handler(DbSession db, EventHub hub, TimeProvider clock) : IRequestHandler<Command, bool>
    {
        private const string Complete = """
            UPDATE fleet.command_executions
            SET status = @Status, exit_code = @ExitCode, stdout = @Stdout, stderr = @Stderr, completed_at = @Now,
                duration_ms = COALESCE(@DurationMs, (extract(epoch FROM (@Now - dispatched_at)) * 1000)::bigint)
            WHERE id = @ExecutionId AND instance_id = @InstanceId AND status IN ('PENDING', 'RUNNING')
            """;

        public async Task<bool> Handle(Command command, CancellationToken cancellationToken)
        {
            var status = command.ExitCode == 0 && command.Error is null ? "SUCCEEDED" : "FAILED";
            var stderr = command.Error is null ? command.Stderr : string.IsNullOrEmpty(command.Stderr) ? command.Error : $"{command.Stderr}\n{command.Error}";
            var changed = await db.ExecuteAsync(
                Complete,
                new
                {
                    command.ExecutionId,
                    command.InstanceId,
                    Status = status,
                    command.ExitCode,
                    Stdout = Truncate(command.Stdout),
                    Stderr = Truncate(stderr),
                    command.DurationMs,
                    Now = clock.GetUtcNow().UtcDateTime,
                },
                cancellationToken);
            if (changed == 0)
            {
                return false;
            }

            await hub.PublishAsync(db, $"fleet.commands.{command.ExecutionId}", new { executionId = command.ExecutionId, status }, cancellationToken);
            return true;
        }

        private static string? Truncate(string? output) => output is { Length: > MaxOutputChars } ? output[..MaxOutputChars] : output;
    }
}
