using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Logs;

/// <summary><c>GET /api/v1/logs</c> (seed 004): logs of the instances the caller may see, filtered by
/// <c>instanceId</c>, <c>level</c> and <c>source</c> (comma-separated), <c>deploymentId</c>, <c>from</c>/<c>to</c> and
/// <c>search</c> (full text with a substring fallback), newest first; <c>page</c> with <c>limit</c>/<c>pageSize</c>
/// (50, at most 500) or keyset <c>cursor</c>.</summary>
public static class ListLogs
{
    public sealed record Query(
        Guid? InstanceId, string? Level, string? Source, Guid? DeploymentId, string? Search, DateTimeOffset? From, DateTimeOffset? To,
        PageRequest Page, string? Cursor) : IQuery<Response>;

    /// <summary><c>totalExact</c> is false when more than <see cref="LogSearch.CountLimit"/> lines match: the total is then
    /// that many, and <c>nextCursor</c> pages on.</summary>
    public sealed record Response(IReadOnlyList<LogView> Logs, IReadOnlyList<LogView> Data, PageInfo Pagination, string? NextCursor, bool TotalExact);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Level).Must(level => FleetVocabulary.Csv(level).All(FleetVocabulary.LogLevels.Contains))
                .WithMessage($"level must be one or more of: {string.Join(", ", FleetVocabulary.LogLevels)}");
            RuleFor(query => query.Source).Must(source => FleetVocabulary.Csv(source).All(FleetVocabulary.LogSources.Contains))
                .WithMessage($"source must be one or more of: {string.Join(", ", FleetVocabulary.LogSources)}");
            RuleFor(query => query.Search).MaximumLength(512);
            RuleFor(query => query.To).Must((query, to) => to >= query.From).When(query => query.From is not null && query.To is not null)
                .WithMessage("to must not be before from");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var page = await LogSearch.RunAsync(
                db,
                FleetVisibility.Of(request.RequiredCaller),
                new LogSearch.Criteria(query.InstanceId, FleetVocabulary.Csv(query.Level), FleetVocabulary.Csv(query.Source), query.DeploymentId, query.Search, query.From, query.To),
                query.Page,
                query.Cursor,
                cancellationToken);
            return new Response(page.Logs, page.Logs, page.Pagination, page.NextCursor, page.TotalExact);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/logs",
                    async (Guid? instanceId, string? level, string? source, Guid? deploymentId, string? search, DateTimeOffset? from, DateTimeOffset? to, string? cursor,
                        [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(
                            new Query(instanceId, level, source, deploymentId, search, from, to, paging.ToPage(LogSearch.DefaultPageSize, LogSearch.MaxPageSize), cursor),
                            cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListLogs))
                .WithTags(FleetRoutes.Logs)
                .WithSummary("Query and search logs (full text, paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
