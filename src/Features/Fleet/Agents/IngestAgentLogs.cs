using Capstan.Features.Fleet.Logs;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using FluentValidation.Results;
using MediatR;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Stores the log lines an agent sent over its socket (<c>log:line</c>, <c>log:batch</c>) for its own
/// instance: up to <see cref="MaxEntries"/> per command in one binary COPY (all or nothing, as the REST batch route),
/// raised on the event hub for live tails. No route: the socket chunks larger batches. A destroyed instance is a 409.</summary>
public static class IngestAgentLogs
{
    public const int MaxEntries = 1000;

    [NotAudited("log ingest: telemetry at high volume")]
    public sealed record Command(Guid InstanceId, IReadOnlyList<LogEntry> Entries) : ICommand<int>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator(IConfiguration configuration, TimeProvider clock)
        {
            var rules = new LogEntry.Rules(configuration, clock);
            RuleFor(command => command.InstanceId).NotEmpty();
            RuleFor(command => command.Entries).NotEmpty().Must(entries => entries.Count <= MaxEntries)
                .WithMessage($"a message holds 1 to {MaxEntries} log entries");
            RuleFor(command => command).Custom((command, context) =>
            {
                for (var index = 0; index < command.Entries.Count && index < MaxEntries; index++)
                {
                    if (command.Entries[index].InstanceId != command.InstanceId)
                    {
                        context.AddFailure(new ValidationFailure($"entries[{index}].instanceId", "an agent reports for its own instance only"));
                    }

                    foreach (var failure in rules.Validate(command.Entries[index]).Errors)
                    {
                        context.AddFailure(new ValidationFailure($"entries[{index}].{failure.PropertyName}", failure.ErrorMessage));
                    }
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, EventHub hub, TimeProvider clock) : IRequestHandler<Command, int>
    {
        private const string Status = "SELECT status FROM fleet.instances WHERE id = @Id";

        public async Task<int> Handle(Command command, CancellationToken cancellationToken)
        {
            var status = await db.ExecuteScalarAsync<string>(Status, new { Id = command.InstanceId }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{command.InstanceId}' not found");
            if (status == "DESTROYED")
            {
                throw new ConflictException($"Instance '{command.InstanceId}' is destroyed");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var logs = command.Entries.Select(entry => entry.ToStored(now)).ToList();
            await LogWriter.CopyAsync(db, logs, cancellationToken);
            await hub.PublishAsync(db, $"fleet.logs.{command.InstanceId}", new { type = "batch", instanceId = command.InstanceId, count = logs.Count, logs }, cancellationToken);
            return logs.Count;
        }
    }
}
