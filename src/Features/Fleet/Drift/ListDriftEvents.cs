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

namespace Capstan.Features.Fleet.Drift;

/// <summary><c>GET /api/v1/drift/events?instanceId=&amp;snapshotId=&amp;severity=&amp;resolved=&amp;from=&amp;to=</c> (seed
/// 004): drift events with their remediation, newest first (20 a page, at most 100) → <c>{events, data, total, page,
/// pageSize, totalPages, pagination}</c>.</summary>
public static class ListDriftEvents
{
    public static readonly string[] Severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW"];

    public sealed record Query(Guid? InstanceId, Guid? SnapshotId, string? Severity, bool? Resolved, DateTime? From, DateTime? To, PageRequest Page) : IQuery<Response>;

    public sealed record Response(
        IReadOnlyList<DriftEventView> Events, IReadOnlyList<DriftEventView> Data, long Total, int Page, int PageSize, int TotalPages, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.Severity).Must(severity => severity is null || Severities.Contains(severity.ToUpperInvariant()))
                .WithMessage($"severity must be one of: {string.Join(", ", Severities)}").OverridePropertyName("severity");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM {DriftRows.EventFrom}
            WHERE (@InstanceId::uuid IS NULL OR e.instance_id = @InstanceId)
              AND (@SnapshotId::uuid IS NULL OR e.snapshot_id = @SnapshotId)
              AND (@Severity::text IS NULL OR e.severity = @Severity)
              AND (@Resolved::boolean IS NULL OR (e.resolved_at IS NOT NULL) = @Resolved)
              AND (@From::timestamptz IS NULL OR e.detected_at >= @From)
              AND (@To::timestamptz IS NULL OR e.detected_at <= @To)
              AND {FleetVisibility.Predicate}
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var parameters = new
            {
                query.InstanceId,
                query.SnapshotId,
                Severity = query.Severity?.ToUpperInvariant(),
                query.Resolved,
                From = query.From?.ToUniversalTime(),
                To = query.To?.ToUniversalTime(),
                scope.SeesAllTeams,
                scope.TeamIds,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var events = (await db.QueryAsync<DriftRows.EventRow>(
                    $"SELECT {DriftRows.EventColumns} {Filter} ORDER BY e.detected_at DESC, e.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken))
                .Select(row => row.ToView())
                .ToList();
            var page = PageInfo.Of(query.Page, total);
            return new Response(events, events, total, page.Page, page.PageSize, page.TotalPages, page);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/drift/events",
                    async (Guid? instanceId, Guid? snapshotId, string? severity, bool? resolved, DateTime? from, DateTime? to, [AsParameters] PagingQuery paging, IMediator mediator,
                        CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(instanceId, snapshotId, severity, resolved, from, to, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListDriftEvents))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("List drift events (paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
