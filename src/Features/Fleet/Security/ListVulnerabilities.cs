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

namespace Capstan.Features.Fleet.Security;

/// <summary><c>GET /api/v1/security/vulnerabilities</c> (seed 004): findings on instances the caller can see, filtered
/// by <c>instanceId</c>, <c>severity</c>, <c>status</c> and <c>ecosystem</c>; most severe first, then newest; paged 50
/// (at most 100) → <c>{total, page, pageSize, totalPages, items}</c> plus <c>data</c> and <c>pagination</c>.</summary>
public static class ListVulnerabilities
{
    public sealed record Query(Guid? InstanceId, string? Severity, string? Status, string? Ecosystem, PageRequest Page) : IQuery<Response>;

    public sealed record Response(
        long Total, int Page, int PageSize, int Limit, int TotalPages, IReadOnlyList<VulnerabilityView> Items, IReadOnlyList<VulnerabilityView> Data, PageInfo Pagination);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Severity).Must(severity => FleetVocabulary.IsOneOf(severity, OsvFeed.Severities)).When(query => query.Severity is not null)
                .WithMessage($"severity must be one of: {string.Join(", ", OsvFeed.Severities)}");
            RuleFor(query => query.Status).Must(status => FleetVocabulary.IsOneOf(status, SecurityRules.VulnerabilityStatuses)).When(query => query.Status is not null)
                .WithMessage($"status must be one of: {string.Join(", ", SecurityRules.VulnerabilityStatuses)}");
            RuleFor(query => query.Ecosystem).MaximumLength(64);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Response>
    {
        private const string Filter = $"""
            FROM fleet.vulnerabilities v JOIN fleet.instances i ON i.id = v.instance_id
            WHERE {FleetVisibility.Predicate}
              AND (@InstanceId::uuid IS NULL OR v.instance_id = @InstanceId)
              AND (@Severity::text IS NULL OR v.severity = @Severity)
              AND (@Status::text IS NULL OR v.status = @Status)
              AND (@Ecosystem::text IS NULL OR v.ecosystem = @Ecosystem)
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var parameters = new
            {
                query.InstanceId,
                Severity = query.Severity?.Trim().ToUpperInvariant(),
                Status = query.Status?.Trim().ToUpperInvariant(),
                Ecosystem = string.IsNullOrWhiteSpace(query.Ecosystem) ? null : OsvFeed.NormaliseEcosystem(query.Ecosystem),
                scope.SeesAllTeams,
                scope.TeamIds,
                query.Page.Offset,
                Limit = query.Page.Size,
            };
            var total = await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<VulnerabilityRow>(
                $"SELECT {VulnerabilityRow.Columns} {Filter} ORDER BY {VulnerabilityRow.SeverityRank}, v.detected_at DESC, v.id DESC LIMIT @Limit OFFSET @Offset",
                parameters,
                cancellationToken);
            var items = rows.Select(row => row.ToView()).ToList();
            var page = PageInfo.Of(query.Page, total);
            return new Response(total, page.Page, page.PageSize, page.Limit, page.TotalPages, items, items, page);
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/security/vulnerabilities",
                    async (Guid? instanceId, string? severity, string? status, string? ecosystem, [AsParameters] PagingQuery paging, IMediator mediator, CancellationToken cancellationToken) =>
                        TypedResults.Ok(await mediator.Send(new Query(instanceId, severity, status, ecosystem, paging.ToPage(defaultSize: 50, maxSize: 100)), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(ListVulnerabilities))
                .WithTags(FleetRoutes.Security)
                .WithSummary("Vulnerability list (paginated)")
                .ProducesErrors(400, 401, 403);
    }
}
