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

/// <summary><c>GET /api/v1/logs/stream?instanceIds=a,b</c> (seed 004): a live SSE tail of the named instances' logs
/// (at least one, at most 100; optional <c>level</c> and <c>source</c> filters), from any replica, with heartbeat
/// comments. 400 without instance ids, 404 for an unknown one.</summary>
public static class StreamLogs
{
    public sealed record Query(string? InstanceIds, string? Level, string? Source) : IQuery<Guid[]>;

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.InstanceIds).Cascade(CascadeMode.Stop).NotEmpty().WithMessage("Provide at least one instanceId via ?instanceIds=id1,id2")
                .Must(ids => Parse(ids) is { Length: > 0 and <= 100 }).WithMessage("instanceIds must be 1 to 100 comma-separated instance ids");
            RuleFor(query => query.Level).Must(level => FleetVocabulary.Csv(level).All(FleetVocabulary.LogLevels.Contains))
                .WithMessage($"level must be one or more of: {string.Join(", ", FleetVocabulary.LogLevels)}");
            RuleFor(query => query.Source).Must(source => FleetVocabulary.Csv(source).All(FleetVocabulary.LogSources.Contains))
                .WithMessage($"source must be one or more of: {string.Join(", ", FleetVocabulary.LogSources)}");
        }
    }

    internal static Guid[]? Parse(string? ids)
    {
        var parsed = new List<Guid>();
        foreach (var part in (ids ?? string.Empty).Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Guid.TryParse(part, out var id))
            {
                return null;
            }

            parsed.Add(id);
        }

        return [.. parsed.Distinct()];
    }

    /// <summary>Resolves the instances to tail: all must exist and be visible.</summary>
    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Guid[]>
    {
        private const string Visible = $"SELECT i.id FROM fleet.instances i WHERE i.id = ANY(@Ids) AND {FleetVisibility.Predicate}";

        public async Task<Guid[]> Handle(Query query, CancellationToken cancellationToken)
        {
            var ids = Parse(query.InstanceIds)!;
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var visible = await db.QueryAsync<Guid>(Visible, new { Ids = ids, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
            if (ids.Except(visible).ToList() is { Count: > 0 } missing)
            {
                throw new NotFoundException($"Unknown instance(s): {string.Join(", ", missing)}");
            }

            return ids;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/logs/stream",
                    async (string? instanceIds, string? level, string? source, HttpContext context, IMediator mediator, DbSession db, EventHub hub, IConfiguration configuration) =>
                    {
                        var ids = await mediator.Send(new Query(instanceIds, level, source), context.RequestAborted);

                        // The stream lives long: give the request's connection back to the pool now.
                        await db.DisposeAsync();
                        await LogTail.RunAsync(
                            context, hub, configuration, ids.ToHashSet(), FleetVocabulary.Csv(level), FleetVocabulary.Csv(source),
                            new { type = "connected", instanceIds = ids, timestamp = DateTime.UtcNow });
                    })
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(StreamLogs))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Live log tail of instances (Server-Sent Events)")
                .Produces(StatusCodes.Status200OK, contentType: "text/event-stream")
                .ProducesErrors(400, 401, 403, 404);
    }
}
