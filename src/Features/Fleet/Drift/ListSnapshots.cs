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

/// <summary><c>GET /api/v1/drift/snapshots?instanceId=&amp;driftStatus=&amp;from=&amp;to=&amp;page=&amp;pageSize=</c> (seed
/// 004): snapshots, newest first (20 a page, at most 100) → <c>{snapshots, data, total, page, pageSize, totalPages,
/// pagination}</c>.</summary>
public static class ListSnapshots
{
    public static readonly string[] Statuses = ["CLEAN", "DRIFTED", "UNKNOWN", "ERROR"];

    public sealed record Query(Guid? InstanceId, string? DriftStatus, DateTime? From, DateTime? To, PageRequest Page) : IQuery<Response>;

    public sealed record Response(
        IReadOnlyList<SnapshotView> Snapshots, IReadOnlyList<SnapshotView> Data, long Total, int Page, int PageSize, int TotalPages, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() =>
            RuleFor(query => query.DriftStatus).Must(status => status is null || Statuses.Contains(status.ToUpperInvariant()))
                .WithMessage($"driftStatus must be one of: {string.Join(", ", Statuses)}").OverridePropertyName("driftStatus");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM fleet.config_snapshots s JOIN fleet.instances i ON i.id = s.instance_id
            WHERE (@InstanceId::uuid IS NULL OR s.instance_id = @InstanceId)
              AND (@DriftStatus::text IS NULL OR s.drift_status = @DriftStatus)
              AND (@From::timestamptz IS NULL OR s.taken_at >= @From)
              AND (@To::timestamptz IS NULL OR s.taken_at <= @To)
              AND {FleetVisibility.Predicate}
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var parameters = new
            {
                query.InstanceId,
                DriftStatus = query.DriftStatus?.ToUpperInvariant(),
                From = query.From?.ToUniversalTime(),
                To = query.To?.ToUniversalTime(),
                scope.SeesAllTeams,
                scope.TeamIds,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<SnapshotView>($"SELECT {SnapshotView.Columns} {Filter} ORDER BY s.taken_at DESC, s.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            var page = PageInfo.Of(query.Page, total);
            return new Response(rows, rows, total, page.Page, page.PageSize, page.TotalPages, page);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/drift/snapshots",
                    async (Guid? instanceId, string? driftStatus, DateTime? from, DateTime? to, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(instanceId, driftStatus, from, to, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListSnapshots))
                .WithTags(FleetRoutes.Drift)
                .WithSummary("List snapshots (paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
