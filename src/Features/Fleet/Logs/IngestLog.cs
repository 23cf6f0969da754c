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
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Logs;

/// <summary><c>POST /api/v1/logs/ingest</c> (seed 004): one log line <c>{instanceId, level, source, message, metadata?,
/// deploymentId?, timestamp?}</c> → 201 with the stored line, raised on the event hub for live tails on every replica.
/// An unknown instance is a 404, a destroyed one a 409. Agents' <c>log:line</c> messages arrive here too.</summary>
public static class IngestLog
{
    [NotAudited("log ingest: telemetry at high volume")]
    public sealed record Command(LogEntry Entry) : ICommand<LogView>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator(IConfiguration configuration, TimeProvider clock)
        {
            var rules = new LogEntry.Rules(configuration, clock);
            RuleFor(command => command.Entry).Custom((entry, context) =>
            {
                foreach (var failure in rules.Validate(entry).Errors)
                {
                    context.AddFailure(failure);
                }
            });
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, EventHub hub, TimeProvider clock) : IRequestHandler<Command, LogView>
    {
        private const string Instance = $"SELECT i.status FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate}";

        private const string Insert = """
            INSERT INTO fleet.logs (id, instance_id, level, source, message, metadata, deployment_id, logged_at)
            VALUES (@Id, @InstanceId, @Level, @Source, @Message, CAST(@Metadata AS jsonb), @DeploymentId, @Timestamp)
            """;

        public async Task<LogView> Handle(Command command, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var log = command.Entry.ToStored(clock.GetUtcNow().UtcDateTime);
            var status = await db.ExecuteScalarAsync<string>(Instance, new { Id = log.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"Instance '{log.InstanceId}' not found");
            if (status == "DESTROYED")
            {
                throw new ConflictException($"Instance '{log.InstanceId}' is destroyed");
            }

            await db.ExecuteAsync(
                Insert,
                new { log.Id, log.InstanceId, log.Level, log.Source, log.Message, Metadata = log.Metadata?.GetRawText(), log.DeploymentId, log.Timestamp },
                cancellationToken);
            await hub.PublishAsync(db, $"fleet.logs.{log.InstanceId}", new { type = "log", instanceId = log.InstanceId, logs = new[] { log } }, cancellationToken);
            return log;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/logs/ingest", async (LogEntry entry, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var log = await mediator.Send(new Command(entry), cancellationToken);
                    return TypedResults.Created($"/api/v1/logs/{log.Id}", log);
                })
                .RequirePermission(Permissions.TelemetryIngest)
                .WithName(nameof(IngestLog))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Ingest a single log entry")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
