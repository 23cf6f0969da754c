using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using FluentValidation.Results;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Logs;

/// <summary><c>POST /api/v1/logs/ingest/batch</c> (seed 004): <c>{entries: [...]}</c> of 1..1000 lines, written in one
/// binary COPY inside one transaction (all or nothing) → 201 <c>{count, ids}</c>. More than 1000 entries is a 413, an
/// empty batch or a bad entry a 400 naming <c>entries[i].field</c>, an unknown instance a 404. Each instance's lines are
/// raised on the event hub for live tails, in one message per batch. Agents' <c>log:batch</c> messages arrive here too.</summary>
public static class IngestLogBatch
{
    public const int MaxEntries = 1000;

    [NotAudited("log ingest: telemetry at high volume")]
    public sealed record Command(LogEntry[]? Entries) : ICommand<Response>;

    public sealed record Response(int Count, IReadOnlyList<Guid> Ids);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator(IConfiguration configuration, TimeProvider clock)
        {
            RuleFor(command => command.Entries).NotEmpty().WithMessage("entries must hold at least one log entry");
            var rules = new LogEntry.Rules(configuration, clock);
            RuleFor(command => command.Entries).Custom((entries, context) =>
            {
                if (entries is null || entries.Length > MaxEntries)
                {
                    return;
                }

                for (var index = 0; index < entries.Length; index++)
                {
                    if (entries[index] is null)
                    {
                        context.AddFailure(new ValidationFailure($"entries[{index}]", "an entry must be an object"));
                        continue;
                    }

                    foreach (var failure in rules.Validate(entries[index]).Errors)
                    {
                        context.AddFailure(new ValidationFailure($"entries[{index}].{failure.PropertyName}", failure.ErrorMessage));
                    }
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Instances = $"SELECT i.id, i.status FROM fleet.instances i WHERE i.id = ANY(@Ids) AND {FleetVisibility.Predicate}";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            if (command.Entries!.Length > MaxEntries)
            {
                throw new PayloadTooLargeException($"A batch holds at most {MaxEntries} entries; this one has {command.Entries.Length}");
            }

            var scope = FleetVisibility.Of(request.RequiredCaller);
            var now = clock.GetUtcNow().UtcDateTime;
            var logs = command.Entries.Select(entry => entry.ToStored(now)).ToList();
            var ids = logs.Select(log => log.InstanceId).Distinct().ToArray();
            var known = (await db.QueryAsync<InstanceStatus>(Instances, new { Ids = ids, scope.SeesAllTeams, scope.TeamIds }, cancellationToken))
                .ToDictionary(row => row.Id, row => row.Status);
            if (ids.Where(id => !known.ContainsKey(id)).ToList() is { Count: > 0 } missing)
            {
                throw new NotFoundException($"Unknown instance(s): {string.Join(", ", missing)}");
            }

            if (known.Where(pair => pair.Value == "DESTROYED").Select(pair => pair.Key).ToList() is { Count: > 0 } destroyed)
            {
                throw new ConflictException($"Destroyed instance(s): {string.Join(", ", destroyed)}");
            }

            await LogWriter.CopyAsync(db, logs, cancellationToken);
            // One hub message for the whole batch, not one per instance (a collector's batch can span a thousand
            // instances): live tails pick their lines out of it by instance id.
            var single = ids.Length == 1 ? ids[0] : (Guid?)null;
            await hub.PublishAsync(
                db, single is { } instance ? $"fleet.logs.{instance}" : "fleet.logs.batch", new { type = "batch", instanceId = single, count = logs.Count, logs }, cancellationToken);

            return new Response(logs.Count, [.. logs.Select(log => log.Id)]);
        }
    }

    internal sealed record InstanceStatus
    {
        public Guid Id { get; init; }

        public string Status { get; init; } = string.Empty;
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/logs/ingest/batch", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Created("/api/v1/logs", await mediator.Send(command, cancellationToken)))
                .RequirePermission(Permissions.TelemetryIngest)
                .WithName(nameof(IngestLogBatch))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Bulk ingest (up to 1000 entries) through binary COPY")
                .WithBodyLimit(16L << 20)
                .ProducesErrors(400, 401, 403, 404, 409, 413);
    }
}
