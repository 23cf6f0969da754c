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

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>GET /api/v1/alerts</c> (seed 004): alerts newest first, filtered by <c>ruleId</c>, <c>instanceId</c>,
/// <c>status</c> and <c>severity</c> (comma-separated) and <c>from</c>/<c>to</c> on the firing time; paged with
/// <c>page</c> and <c>limit</c>/<c>pageSize</c> (20, at most 100). The paging fields are flat (as the upstream) and in
/// <c>pagination</c> (as the seed).</summary>
public static class ListAlerts
{
    public sealed record Query(Guid? RuleId, Guid? InstanceId, string? Status, string? Severity, DateTimeOffset? From, DateTimeOffset? To, PageRequest Page)
        : IQuery<Response>;

    public sealed record Response(
        IReadOnlyList<AlertView> Alerts, IReadOnlyList<AlertView> Data, long Total, int Page, int PageSize, int Limit, int TotalPages, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Status).Must(status => FleetVocabulary.Csv(status).All(FleetVocabulary.AlertStatuses.Contains))
                .WithMessage($"status must be one or more of: {string.Join(", ", FleetVocabulary.AlertStatuses)}");
            RuleFor(query => query.Severity).Must(severity => FleetVocabulary.Csv(severity).All(FleetVocabulary.Severities.Contains))
                .WithMessage($"severity must be one or more of: {string.Join(", ", FleetVocabulary.Severities)}");
            RuleFor(query => query.To).Must((query, to) => to >= query.From).When(query => query.From is not null && query.To is not null)
                .WithMessage("to must not be before from");
        }
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            {AlertRow.From}
            WHERE (@RuleId::uuid IS NULL OR a.rule_id = @RuleId)
              AND (@InstanceId::uuid IS NULL OR a.instance_id = @InstanceId)
              AND (cardinality(@Statuses) = 0 OR a.status = ANY(@Statuses))
              AND (cardinality(@Severities) = 0 OR a.severity = ANY(@Severities))
              AND (@From::timestamptz IS NULL OR a.fired_at >= @From)
              AND (@To::timestamptz IS NULL OR a.fired_at <= @To)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new
            {
                query.RuleId,
                query.InstanceId,
                Statuses = FleetVocabulary.Csv(query.Status),
                Severities = FleetVocabulary.Csv(query.Severity),
                From = query.From?.UtcDateTime,
                To = query.To?.UtcDateTime,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<AlertRow>(
                $"SELECT {AlertRow.Columns} {Filter} ORDER BY a.fired_at DESC, a.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            var alerts = rows.Select(row => row.ToView()).ToList();
            var page = PageInfo.Of(query.Page, total);
            return new Response(alerts, alerts, total, page.Page, page.PageSize, page.Limit, page.TotalPages, page);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/alerts",
                    async (Guid? ruleId, Guid? instanceId, string? status, string? severity, DateTimeOffset? from, DateTimeOffset? to, [AsParameters] PagingQuery paging,
                        IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(ruleId, instanceId, status, severity, from, to, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListAlerts))
                .WithTags(FleetRoutes.Alerts)
                .WithSummary("List alerts (filterable, paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
