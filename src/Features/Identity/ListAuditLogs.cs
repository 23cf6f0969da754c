using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Identity;

/// <summary>
/// <c>GET /api/v1/audit</c> (seed 004, admin): the audit log in Sindri's shape, newest first, filtered by
/// <c>user_id</c>, <c>team_id</c>, <c>action</c>, <c>resource</c> (the resource type), <c>resource_id</c> and the
/// inclusive <c>from</c>/<c>to</c> range. Offset pages with <c>page</c> and <c>pageSize</c> (or <c>limit</c>; 50 by
/// default, at most 200). For deep pages pass the <c>nextCursor</c> of the previous answer as <c>cursor</c>: keyset
/// paging over the time index, as fast on page 1000 as on page 1 (<c>page</c> is then ignored). The cursor carries the
/// total counted for its first page, so deep pages skip the count: the total stays the one the walk started with
/// (a cursor reused with other filters is counted afresh).
/// </summary>
public static class ListAuditLogs
{
    public sealed record Query(
        string? UserId, string? TeamId, string? Action, string? Resource, string? ResourceId, string? From, string? To, string? Cursor, PageRequest Page)
        : IQuery<Response>;

    public sealed record Response(IReadOnlyList<LogView> Logs, PageInfo Pagination, string? NextCursor);

    public sealed record LogView(
        Guid Id,
        Guid? UserId,
        string? UserEmail,
        string? UserName,
        Guid? TeamId,
        string Action,
        string? Resource,
        string? ResourceId,
        string Result,
        JsonElement Metadata,
        string? IpAddress,
        DateTime Timestamp);

    /// <summary>Where the previous page ended, and the total of the walk with the fingerprint of its filters.</summary>
    public sealed record Position(DateTime At, Guid Id, long? Total = null, string? Filters = null);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.UserId).Must(id => Guid.TryParse(id, out _)).When(query => query.UserId is not null)
                .OverridePropertyName("user_id").WithMessage("user_id must be a UUID");
            RuleFor(query => query.TeamId).Must(id => Guid.TryParse(id, out _)).When(query => query.TeamId is not null)
                .OverridePropertyName("team_id").WithMessage("team_id must be a UUID");
            RuleFor(query => query.Action).MaximumLength(128).WithMessage("action must be at most 128 characters");
            RuleFor(query => query.Resource).MaximumLength(64).WithMessage("resource must be at most 64 characters");
            RuleFor(query => query.ResourceId).MaximumLength(128).OverridePropertyName("resource_id").WithMessage("resource_id must be at most 128 characters");
            RuleFor(query => query.From).Must(value => ParseTime(value) is not null).When(query => query.From is not null)
                .WithMessage("from must be an ISO-8601 date or date-time");
            RuleFor(query => query.To).Must(value => ParseTime(value) is not null).When(query => query.To is not null)
                .WithMessage("to must be an ISO-8601 date or date-time");
            RuleFor(query => query).Must(query => ParseTime(query.From) <= ParseTime(query.To))
                .When(query => ParseTime(query.From) is not null && ParseTime(query.To) is not null)
                .OverridePropertyName("from").WithMessage("from must not be later than to");
        }
    }

    internal static DateTime? ParseTime(string? value) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var parsed)
            ? parsed.UtcDateTime
            : null;

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, Response>
    {
        private const string Filter = """
            FROM identity.audit_log a
            WHERE (@UserId::uuid IS NULL OR (a.actor_type = 'user' AND a.actor_id = @UserId))
              AND (@TeamId::uuid IS NULL OR a.team_id = @TeamId)
              AND (@Action::text IS NULL OR a.action = @Action)
              AND (@Resource::text IS NULL OR a.resource_type = @Resource)
              AND (@ResourceId::text IS NULL OR a.resource_id = @ResourceId)
              AND (@From::timestamptz IS NULL OR a.occurred_at >= @From)
              AND (@To::timestamptz IS NULL OR a.occurred_at <= @To)
            """;

        private const string Page = $"""
            SELECT a.id, CASE WHEN a.actor_type = 'user' THEN a.actor_id END AS user_id, u.email AS user_email,
                   CASE WHEN a.actor_type = 'user' THEN COALESCE(NULLIF(u.name, ''), u.username, a.actor_name) END AS user_name,
                   a.team_id, a.action, a.resource_type AS resource, a.resource_id, a.result, a.metadata::text AS metadata,
                   a.ip_address, a.occurred_at AS timestamp
            FROM (
                SELECT a.*
                {Filter}
                  AND (@AfterAt::timestamptz IS NULL OR (a.occurred_at, a.id) < (@AfterAt, @AfterId))
                ORDER BY a.occurred_at DESC, a.id DESC
                LIMIT @Take OFFSET @Offset
            ) a
            LEFT JOIN identity.users u ON a.actor_type = 'user' AND u.id = a.actor_id
            ORDER BY a.occurred_at DESC, a.id DESC
            """;

        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var after = KeysetCursor.Decode<Position>(query.Cursor);
            if (after is not null && (after.Id == Guid.Empty || after.At == default))
            {
                throw BadRequestException.ForField("cursor", "cursor is not a cursor this API issued");
            }

            var parameters = new
            {
                UserId = query.UserId is null ? (Guid?)null : Guid.Parse(query.UserId),
                TeamId = query.TeamId is null ? (Guid?)null : Guid.Parse(query.TeamId),
                query.Action,
                query.Resource,
                query.ResourceId,
                From = ParseTime(query.From),
                To = ParseTime(query.To),
                AfterAt = after is null ? (DateTime?)null : DateTime.SpecifyKind(after.At, DateTimeKind.Utc),
                AfterId = after?.Id,
                Take = query.Page.Size + 1,
                Offset = after is null ? query.Page.Offset : 0,
            };
            var filters = Fingerprint(query);
            var total = after is { Total: { } carried } && after.Filters == filters
                ? carried
                : await db.ExecuteScalarAsync<long>($"SELECT count(*) {Filter}", parameters, cancellationToken);
            var rows = await db.QueryAsync<Row>(Page, parameters, cancellationToken);
            var hasMore = rows.Count > query.Page.Size;
            var logs = rows.Take(query.Page.Size)
                .Select(row => new LogView(
                    row.Id, row.UserId, row.UserEmail, row.UserName, row.TeamId, row.Action, row.Resource, row.ResourceId, row.Result,
                    JsonDocument.Parse(row.Metadata).RootElement.Clone(), row.IpAddress, row.Timestamp))
                .ToList();
            var page = after is null ? query.Page : new PageRequest(0, query.Page.Size);
            return new Response(
                logs,
                PageInfo.Of(page, total) with { HasMore = hasMore },
                hasMore ? KeysetCursor.Encode(new Position(logs[^1].Timestamp, logs[^1].Id, total, filters)) : null);
        }

        /// <summary>A short digest of the filters a total was counted under.</summary>
        private static string Fingerprint(Query query) => Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(
            string.Join('\u001f', query.UserId, query.TeamId, query.Action, query.Resource, query.ResourceId, query.From, query.To))))[..16];

        private sealed record Row(
            Guid Id, Guid? UserId, string? UserEmail, string? UserName, Guid? TeamId, string Action, string? Resource, string? ResourceId,
            string Result, string Metadata, string? IpAddress, DateTime Timestamp);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/audit",
                    async (
                        [FromQuery(Name = "user_id")] string? userId,
                        [FromQuery(Name = "team_id")] string? teamId,
                        string? action,
                        string? resource,
                        [FromQuery(Name = "resource_id")] string? resourceId,
                        string? from,
                        string? to,
                        string? cursor,
                        [AsParameters] PagingQuery paging,
                        IMediator mediator,
                        CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(
                        new Query(Blank(userId), Blank(teamId), Blank(action), Blank(resource), Blank(resourceId), Blank(from), Blank(to), Blank(cursor),
                            paging.ToPage(defaultSize: 50, maxSize: 200)),
                        cancellationToken)))
                .RequirePermission(Permissions.AuditRead)
                .WithName(nameof(ListAuditLogs))
                .WithTags(IdentityRoutes.Audit)
                .WithSummary("List audit logs (paged; keyset cursor for deep pages)")
                .ProducesErrors(400, 401, 403);

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }
}
