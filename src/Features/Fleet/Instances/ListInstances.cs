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

namespace Capstan.Features.Fleet.Instances;

/// <summary><c>GET /api/v1/instances</c> (seed 004): instances the caller's teams may see, filtered by <c>status</c>
/// (comma-separated), <c>provider</c>, <c>region</c>, <c>distro</c>, <c>teamId</c> and <c>search</c> (name, region,
/// provider), newest first, paged with <c>page</c> and <c>limit</c>/<c>pageSize</c> (20, at most 100). Destroyed
/// instances are history: listed only when asked for by status or <c>includeDestroyed=true</c>.</summary>
public static class ListInstances
{
    private static readonly SortWhitelist Sorts = new(
        "createdAt",
        OrderDirection.Descending,
        "i.id",
        ("createdAt", "i.created_at"),
        ("updatedAt", "i.updated_at"),
        ("name", "i.name"),
        ("status", "i.status"),
        ("provider", "i.provider"),
        ("lastHeartbeatAt", "i.last_heartbeat_at"));

    public sealed record Query(
        string? Status, string? Provider, string? Region, string? Distro, Guid? TeamId, string? Search, bool IncludeDestroyed, PageRequest Page, SortClause Sort)
        : IQuery<Response>;

    /// <summary>The upstream's <c>instances</c> and the seed's <c>data</c> carry the same page.</summary>
    public sealed record Response(IReadOnlyList<InstanceView> Instances, IReadOnlyList<InstanceView> Data, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Status).Must(status => FleetVocabulary.Csv(status).All(value => FleetVocabulary.Statuses.Contains(value)))
                .When(query => query.Status is not null).WithMessage($"status must be one or more of: {string.Join(", ", FleetVocabulary.Statuses)}");
            RuleFor(query => query.Provider).Must(provider => FleetVocabulary.IsOneOf(provider, FleetVocabulary.Providers))
                .When(query => query.Provider is not null).WithMessage($"provider must be one of: {string.Join(", ", FleetVocabulary.Providers)}");
            RuleFor(query => query.Distro).Must(distro => FleetVocabulary.IsOneOf(distro, FleetVocabulary.Distros))
                .When(query => query.Distro is not null).WithMessage($"distro must be one of: {string.Join(", ", FleetVocabulary.Distros)}");
            RuleFor(query => query.Region).MaximumLength(64);
            RuleFor(query => query.Search).MaximumLength(128);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM fleet.instances i
            WHERE {FleetVisibility.Predicate}
              AND (cardinality(@Statuses) > 0 OR @IncludeDestroyed OR i.status <> 'DESTROYED')
              AND (cardinality(@Statuses) = 0 OR i.status = ANY(@Statuses))
              AND (@Provider::text IS NULL OR i.provider = @Provider)
              AND (@Region::text IS NULL OR i.region = @Region)
              AND (@Distro::text IS NULL OR i.distro = @Distro)
              AND (@TeamId::uuid IS NULL OR i.team_id = @TeamId)
              AND (@Search::text IS NULL OR i.name ILIKE @Search OR i.region ILIKE @Search OR i.provider ILIKE @Search)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var parameters = new
            {
                scope.SeesAllTeams,
                scope.TeamIds,
                Statuses = FleetVocabulary.Csv(query.Status),
                query.IncludeDestroyed,
                Provider = query.Provider?.Trim().ToLowerInvariant(),
                Region = string.IsNullOrWhiteSpace(query.Region) ? null : query.Region.Trim(),
                Distro = query.Distro?.Trim().ToLowerInvariant(),
                query.TeamId,
                Search = string.IsNullOrWhiteSpace(query.Search) ? null : $"%{EscapeLike(query.Search.Trim())}%",
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<InstanceRow>(
                $"""
                SELECT {InstanceRow.Columns}
                {Filter}
                ORDER BY {query.Sort.OrderBy}
                LIMIT @Limit OFFSET @Offset
                """,
                parameters,
                cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            var instances = rows.Select(row => row.ToView(now)).ToList();
            return new Response(instances, instances, PageInfo.Of(query.Page, total));
        }

        private static string EscapeLike(string value) =>
            value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/instances",
                    async (string? status, string? provider, string? region, string? distro, Guid? teamId, string? search, bool? includeDestroyed,
                        [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(
                            new Query(status, provider, region, distro, teamId, search, includeDestroyed ?? false, paging.ToPage(defaultSize: 20, maxSize: 100), paging.ToSort(Sorts)),
                            cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListInstances))
                .WithTags(FleetRoutes.Instances)
                .WithSummary("List instances (filterable, paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
