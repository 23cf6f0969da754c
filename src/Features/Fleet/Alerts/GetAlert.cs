using System.Text.Json;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Alerts;

/// <summary><c>GET /api/v1/alerts/{id}</c> (seed 004): the alert with its rule and its last 20 delivery attempts
/// (channel, attempt number, outcome, status code, error, duration); 404 "Alert not found".</summary>
public static class GetAlert
{
    public sealed record Query(Guid Id) : IQuery<AlertDetail>;

    public sealed record AlertDetail(
        Guid Id,
        Guid RuleId,
        Guid? InstanceId,
        string? InstanceName,
        string Status,
        string Severity,
        string Title,
        string Message,
        JsonElement Metadata,
        DateTime FiredAt,
        DateTime? AcknowledgedAt,
        string? AcknowledgedBy,
        DateTime? ResolvedAt,
        string? ResolvedBy,
        string DedupeKey,
        AlertRuleRef? Rule,
        long NotificationCount,
        IReadOnlyList<NotificationView> Notifications);

    public sealed record NotificationView(
        Guid Id, DateTime SentAt, long Attempt, bool Success, long? StatusCode, string? Error, long DurationMs, ChannelRef Channel);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Id).NotEmpty();
    }

    internal sealed class Handler(DbSession db) : IRequestHandler<Query, AlertDetail>
    {
        private const string Select = $"SELECT {AlertRow.Columns} {AlertRow.From} WHERE a.id = @Id";

        private const string Notifications = """
            SELECT id, sent_at, attempt, success, status_code, error, duration_ms, COALESCE(channel_id, '00000000-0000-0000-0000-000000000000') AS channel_id,
                   channel_name, channel_type
            FROM fleet.alert_notifications
            WHERE alert_id = @Id
            ORDER BY sent_at DESC, attempt DESC
            LIMIT 20
            """;

        public async Task<AlertDetail> Handle(Query query, CancellationToken cancellationToken)
        {
            var row = await db.QuerySingleOrDefaultAsync<AlertRow>(Select, new { query.Id }, cancellationToken) ?? throw new NotFoundException("Alert not found");
            var notifications = await db.QueryAsync<NotificationRow>(Notifications, new { query.Id }, cancellationToken);
            var view = row.ToView();
            return new AlertDetail(
                view.Id, view.RuleId, view.InstanceId, view.InstanceName, view.Status, view.Severity, view.Title, view.Message, view.Metadata, view.FiredAt,
                view.AcknowledgedAt, view.AcknowledgedBy, view.ResolvedAt, view.ResolvedBy, view.DedupeKey, view.Rule, view.NotificationCount,
                [.. notifications.Select(notification => new NotificationView(
                    notification.Id, notification.SentAt, notification.Attempt, notification.Success, notification.StatusCode, notification.Error,
                    notification.DurationMs, new ChannelRef(notification.ChannelId, notification.ChannelName, notification.ChannelType)))]);
        }
    }

    internal sealed record NotificationRow
    {
        public Guid Id { get; init; }

        public DateTime SentAt { get; init; }

        public long Attempt { get; init; }

        public bool Success { get; init; }

        public long? StatusCode { get; init; }

        public string? Error { get; init; }

        public long DurationMs { get; init; }

        public Guid ChannelId { get; init; }

        public string ChannelName { get; init; } = string.Empty;

        public string ChannelType { get; init; } = string.Empty;
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/alerts/{id}", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Query(id), cancellationToken)))
                .RequirePermission(Permissions.FleetRead)
                .WithName(nameof(GetAlert))
                .WithTags(FleetRoutes.Alerts)
                .WithSummary("Alert detail with its delivery attempts")
                .ProducesErrors(400, 401, 403, 404);
    }
}
