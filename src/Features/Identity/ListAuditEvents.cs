using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
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
/// <c>GET /api/v1/audit-events</c> (seed 003, <c>audit.read</c>): the audit log in Secrets Bridge's shape, a bare array
/// newest first. Filters: <c>actor</c> (<c>user:&lt;uuid&gt;</c>, <c>agent:&lt;uuid&gt;</c>, <c>system</c>,
/// <c>anonymous</c>), <c>action</c>, <c>resource</c> (<c>&lt;type&gt;:&lt;id&gt;</c>, or a bare type for rows without
/// an id), <c>correlation_id</c> (UUID, 32-hex form too), <c>since</c> (inclusive) and <c>until</c> (exclusive) as
/// RFC 3339, <c>limit</c> (100 by default, at most 1000). Malformed filters are 400 in the upstream's words.
/// </summary>
public static partial class ListAuditEvents
{
    public const int DefaultLimit = 100;
    public const int MaximumLimit = 1000;

    public sealed record Query(
        string? Actor, string? Action, string? Resource, string? CorrelationId, string? Since, string? Until, string? Limit) : IQuery<IReadOnlyList<EventView>>;

    public sealed record EventView(
        [property: JsonPropertyName("id")] Guid Id,
        [property: JsonPropertyName("actor")] string Actor,
        [property: JsonPropertyName("actor_display")] string ActorDisplay,
        [property: JsonPropertyName("action")] string Action,
        [property: JsonPropertyName("resource")] string? Resource,
        [property: JsonPropertyName("status")] string Status,
        [property: JsonPropertyName("correlation_id")] Guid CorrelationId,
        [property: JsonPropertyName("metadata")] JsonElement Metadata,
        [property: JsonPropertyName("occurred_at")] DateTime OccurredAt);

    /// <summary>An actor filter: the actor type, and the id for users and agents.</summary>
    internal sealed record ActorFilter(string Type, Guid? Id);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Actor).Must(actor => ParseActor(actor) is not null).When(query => query.Actor is not null)
                .WithMessage("actor: expected user:<uuid>, agent:<uuid>, system or anonymous");
            RuleFor(query => query.Action).MaximumLength(128).WithMessage("action: at most 128 characters");
            RuleFor(query => query.Resource).MaximumLength(300).WithMessage("resource: at most 300 characters");
            RuleFor(query => query.CorrelationId).Must(id => ParseUuid(id) is not null).When(query => query.CorrelationId is not null)
                .OverridePropertyName("correlation_id").WithMessage("correlation_id: invalid uuid");
            RuleFor(query => query.Since).Must(value => ParseRfc3339(value) is not null).When(query => query.Since is not null)
                .WithMessage("since: expected RFC3339 timestamp");
            RuleFor(query => query.Until).Must(value => ParseRfc3339(value) is not null).When(query => query.Until is not null)
                .WithMessage("until: expected RFC3339 timestamp");
            RuleFor(query => query.Limit).Must(value => ParseLimit(value) is not null).When(query => query.Limit is not null)
                .WithMessage("limit: expected a positive integer");
        }
    }

    internal static ActorFilter? ParseActor(string? actor)
    {
        switch (actor)
        {
            case "system" or "anonymous":
                return new ActorFilter(actor, null);
            case not null when actor.Split(':', 2) is [("user" or "agent") and var type, var id] && ParseUuid(id) is { } parsed:
                return new ActorFilter(type, parsed);
            default:
                return null;
        }
    }

    /// <summary>A UUID in its hyphenated form or as 32 hex digits, as the upstream accepts it.</summary>
    internal static Guid? ParseUuid(string? value) =>
        Guid.TryParseExact(value, "D", out var id) || Guid.TryParseExact(value, "N", out id) ? id : null;

    /// <summary>An RFC 3339 time, rounded up to the microsecond the database keeps: for microsecond data that rounding
    /// keeps both "since" (at or after) and "until" (before) exact, even with Go's nine fractional digits.</summary>
    internal static DateTime? ParseRfc3339(string? value)
    {
        if (value is null || Rfc3339().Match(value) is not { Success: true } match)
        {
            return null;
        }

        var fraction = match.Groups["fraction"];
        var withoutFraction = fraction.Success ? value.Remove(fraction.Index, fraction.Length) : value;
        if (!DateTimeOffset.TryParse(withoutFraction, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal, out var parsed))
        {
            return null;
        }

        var nanoseconds = fraction.Success ? long.Parse(fraction.Value[1..].PadRight(9, '0'), CultureInfo.InvariantCulture) : 0;
        return parsed.UtcDateTime.AddTicks((nanoseconds + 999) / 1000 * TimeSpan.TicksPerMicrosecond);
    }

    internal static int? ParseLimit(string? value) =>
        value is null ? DefaultLimit
        : int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var limit) && limit > 0 ? Math.Min(limit, MaximumLimit)
        : long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var large) && large > 0 ? MaximumLimit
        : null;

    [GeneratedRegex(@"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?<fraction>\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$")]
    private static partial Regex Rfc3339();

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, IReadOnlyList<EventView>>
    {
        private const string List = """
            SELECT a.id, a.actor_type, a.actor_id, a.actor_name, u.name AS user_name, u.username AS user_username, u.email AS user_email,
                   a.action, a.resource_type, a.resource_id, a.result, a.correlation_id, a.metadata::text AS metadata, a.occurred_at
            FROM (
                SELECT *
                FROM identity.audit_log a
                WHERE (@ActorType::text IS NULL OR a.actor_type = @ActorType)
                  AND (@ActorId::uuid IS NULL OR a.actor_id = @ActorId)
                  AND (@Action::text IS NULL OR a.action = @Action)
                  AND (NOT @FilterResource OR (a.resource_type = @ResourceType
                       AND (a.resource_id = @ResourceId OR (@ResourceId::text IS NULL AND a.resource_id IS NULL))))
                  AND (@CorrelationId::uuid IS NULL OR a.correlation_id = @CorrelationId)
                  AND (@Since::timestamptz IS NULL OR a.occurred_at >= @Since)
                  AND (@Until::timestamptz IS NULL OR a.occurred_at < @Until)
                ORDER BY a.occurred_at DESC, a.id DESC
                LIMIT @Limit
            ) a
            LEFT JOIN identity.users u ON a.actor_type = 'user' AND u.id = a.actor_id
            ORDER BY a.occurred_at DESC, a.id DESC
            """;

        public async Task<IReadOnlyList<EventView>> Handle(Query query, CancellationToken cancellationToken)
        {
            var actor = query.Actor is null ? null : ParseActor(query.Actor);
            var resource = query.Resource?.Split(':', 2);
            var rows = await db.QueryAsync<Row>(
                List,
                new
                {
                    ActorType = actor?.Type,
                    ActorId = actor?.Id,
                    query.Action,
                    FilterResource = resource is not null,
                    ResourceType = resource?[0],
                    ResourceId = resource is [_, var id] ? id : null,
                    CorrelationId = ParseUuid(query.CorrelationId),
                    Since = ParseRfc3339(query.Since),
                    Until = ParseRfc3339(query.Until),
                    Limit = ParseLimit(query.Limit)!.Value,
                },
                cancellationToken);
            return [.. rows.Select(ToView)];
        }

        private static EventView ToView(Row row)
        {
            var actor = row.ActorType is "user" or "agent" && row.ActorId is { } id ? $"{row.ActorType}:{id}" : row.ActorType;
            var display = row.ActorType == "user"
                ? FirstNonEmpty(row.UserName, row.UserUsername, row.UserEmail, row.ActorName) ?? actor
                : FirstNonEmpty(row.ActorName) ?? actor;
            var resource = row.ResourceType is null ? null : row.ResourceId is null ? row.ResourceType : $"{row.ResourceType}:{row.ResourceId}";
            return new EventView(
                row.Id, actor, display, row.Action, resource, row.Result, row.CorrelationId, JsonDocument.Parse(row.Metadata).RootElement.Clone(), row.OccurredAt);
        }

        private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(value => !string.IsNullOrWhiteSpace(value));

        private sealed record Row(
            Guid Id, string ActorType, Guid? ActorId, string? ActorName, string? UserName, string? UserUsername, string? UserEmail, string Action,
            string? ResourceType, string? ResourceId, string Result, Guid CorrelationId, string Metadata, DateTime OccurredAt);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet(
                    "/api/v1/audit-events",
                    async (
                        string? actor,
                        string? action,
                        string? resource,
                        [FromQuery(Name = "correlation_id")] string? correlationId,
                        string? since,
                        string? until,
                        string? limit,
                        IMediator mediator,
                        CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(
                        new Query(Blank(actor), Blank(action), Blank(resource), Blank(correlationId), Blank(since), Blank(until), Blank(limit)), cancellationToken)))
                .RequirePermission(Permissions.AuditRead)
                .WithName(nameof(ListAuditEvents))
                .WithTags(IdentityRoutes.Audit)
                .WithSummary("List audit events (newest first)")
                .ProducesErrors(400, 401, 403);

        private static string? Blank(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
    }
}
