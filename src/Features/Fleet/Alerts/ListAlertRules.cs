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

/// <summary><c>GET /api/v1/alerts/rules</c> (seed 004; shadowed by <c>/alerts/:id</c> in the upstream, served here):
/// rules newest first, filtered by <c>type</c>, <c>severity</c>, <c>enabled</c> and <c>instanceId</c> (rules of that
/// instance and fleet-wide ones); paged with <c>page</c> and <c>limit</c>/<c>pageSize</c> (20, at most 100).</summary>
public static class ListAlertRules
{
    public sealed record Query(string? Type, string? Severity, bool? Enabled, Guid? InstanceId, PageRequest Page) : IQuery<Response>;

    public sealed record Response(
        IReadOnlyList<RuleView> Rules, IReadOnlyList<RuleView> Data, long Total, int Page, int PageSize, int Limit, int TotalPages, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Type).Must(type => FleetVocabulary.IsOneOf(type, FleetVocabulary.RuleTypes)).When(query => query.Type is not null)
                .WithMessage($"type must be one of: {string.Join(", ", FleetVocabulary.RuleTypes)}");
            RuleFor(query => query.Severity).Must(severity => FleetVocabulary.IsOneOf(severity, FleetVocabulary.Severities)).When(query => query.Severity is not null)
                .WithMessage($"severity must be one of: {string.Join(", ", FleetVocabulary.Severities)}");
        }
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM fleet.alert_rules r
            WHERE (@Type::text IS NULL OR r.type = @Type)
              AND (@Severity::text IS NULL OR r.severity = @Severity)
              AND (@Enabled::boolean IS NULL OR r.enabled = @Enabled)
              AND (@InstanceId::uuid IS NULL OR r.instance_id = @InstanceId OR r.instance_id IS NULL)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var parameters = new
            {
                Type = query.Type?.Trim().ToUpperInvariant(),
                Severity = query.Severity?.Trim().ToUpperInvariant(),
                query.Enabled,
                query.InstanceId,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<RuleRow>($"SELECT {RuleRow.Columns} {Filter} ORDER BY r.created_at DESC, r.id DESC LIMIT @Limit OFFSET @Offset", parameters, cancellationToken);
            var rules = rows.Select(row => row.ToView()).ToList();
            var page = PageInfo.Of(query.Page, total);
            return new Response(rules, rules, total, page.Page, page.PageSize, page.Limit, page.TotalPages, page);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/alerts/rules",
                    async (string? type, string? severity, bool? enabled, Guid? instanceId, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(type, severity, enabled, instanceId, paging.ToPage(defaultSize: 20, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListAlertRules))
                .WithTags(FleetRoutes.AlertRules)
                .WithSummary("List alert rules (filterable, paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
