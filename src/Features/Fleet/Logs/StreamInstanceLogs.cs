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

/// <summary><c>GET /api/v1/instances/{instanceId}/logs/stream</c> (seed 004): a live SSE tail of one instance's logs
/// (optional <c>level</c>/<c>source</c> filters), first frame <c>{type: "connected", instanceId, timestamp}</c>, with
/// heartbeat comments; 404 for an unknown instance.</summary>
public static class StreamInstanceLogs
{
    public sealed record Query(Guid InstanceId, string? Level, string? Source) : IQuery<Guid>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.InstanceId).NotEmpty();
            RuleFor(query => query.Level).Must(level => FleetVocabulary.Csv(level).All(FleetVocabulary.LogLevels.Contains))
                .WithMessage($"level must be one or more of: {string.Join(", ", FleetVocabulary.LogLevels)}");
            RuleFor(query => query.Source).Must(source => FleetVocabulary.Csv(source).All(FleetVocabulary.LogSources.Contains))
                .WithMessage($"source must be one or more of: {string.Join(", ", FleetVocabulary.LogSources)}");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Guid>
    {
        private const string Exists = $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @Id AND {FleetVisibility.Predicate})";

        public async Task<Guid> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            return await db.ExecuteScalarAsync<bool>(Exists, new { Id = query.InstanceId, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ? query.InstanceId
                : throw new NotFoundException($"Instance '{query.InstanceId}' not found");
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/instances/{instanceId}/logs/stream",
                    async (Guid instanceId, string? level, string? source, HttpContext context, IMediator mediator, DbSession db, EventHub hub, IConfiguration configuration) =>
                    {
                        var id = await mediator.Send(new Query(instanceId, level, source), context.RequestAborted);

                        // The stream lives long: give the request's connection back to the pool now.
                        await db.DisposeAsync();
                        await LogTail.RunAsync(
                            context, hub, configuration, new HashSet<Guid> { id }, FleetVocabulary.Csv(level), FleetVocabulary.Csv(source),
                            new { type = "connected", instanceId = id, timestamp = DateTime.UtcNow });
                    })
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(StreamInstanceLogs))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Live log tail of one instance (Server-Sent Events)")
                .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
                .ProducesErrors(400, 401, 403, 404);
    }
}
