using System.Text.Json;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Alerts;

/// <summary>
/// Evaluates the alert rules every minute (<c>Fleet:Alerts:IntervalSeconds</c>), once per fleet under the job's
/// advisory lock (see <see cref="AlertEvaluator"/>), then notifies the enabled channels of each rule that fired,
/// recording every delivery attempt in <c>fleet.alert_notifications</c>.
/// </summary>
public sealed class AlertEvaluation(IServiceProvider services, ILogger<AlertEvaluation> logger) : RecurringJob(services, logger)
{
    private const string Alerts = """
        SELECT a.id, a.rule_id, r.name AS rule_name, r.type AS rule_type, a.instance_id, i.name AS instance_name, a.severity, a.title, a.message,
               a.status, a.fired_at, a.metadata::text AS metadata
        FROM fleet.alerts a
        JOIN fleet.alert_rules r ON r.id = a.rule_id
        LEFT JOIN fleet.instances i ON i.id = a.instance_id
        WHERE a.id = ANY(@Ids)
        """;

    private const string Channels = """
        SELECT rc.rule_id, c.id, c.name, c.type, c.config_sealed
        FROM fleet.alert_rule_channels rc
        JOIN fleet.notification_channels c ON c.id = rc.channel_id
        WHERE rc.rule_id = ANY(@RuleIds) AND c.enabled
        """;

    private const string RecordAttempt = """
        INSERT INTO fleet.alert_notifications
            (id, alert_id, channel_id, channel_name, channel_type, attempt, sent_at, success, status_code, error, duration_ms, payload)
        VALUES (@Id, @AlertId, @ChannelId, @ChannelName, @ChannelType, @Attempt, @SentAt, @Success, @StatusCode, @Error, @DurationMs, CAST(@Payload AS jsonb))
        """;

    private readonly TimeSpan _interval = TimeSpan.FromSeconds(services.GetRequiredService<IConfiguration>().GetValue("Fleet:Alerts:IntervalSeconds", 60));
    private readonly ILogger _logger = logger;

    public override string Name => "fleet-alert-evaluation";

    public override TimeSpan Interval => _interval;

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(15);

    /// <summary>What the last run did (for logs and tests).</summary>
    internal AlertEvaluator.Outcome? LastOutcome { get; private set; }

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var hub = scope.GetRequiredService<EventHub>();
        var outcome = await new AlertEvaluator(db, hub, scope.GetRequiredService<TimeProvider>(), _logger).EvaluateAsync(cancellationToken);
        LastOutcome = outcome;
        if (outcome.Fired.Count + outcome.Resolved.Count > 0)
        {
            _logger.LogInformation(
                "Alert evaluation: {Rules} rules, {Evaluations} checks, {Fired} fired, {Resolved} resolved, {Suppressed} in cooldown",
                outcome.Rules, outcome.Evaluations, outcome.Fired.Count, outcome.Resolved.Count, outcome.Suppressed);
        }

        if (outcome.Fired.Count > 0)
        {
            var sender = new NotificationSender(scope.GetRequiredService<IHttpClientFactory>(), scope.GetRequiredService<IConfiguration>(), hub);
            await NotifyAsync(db, scope.GetRequiredService<EnvelopeCipher>(), sender, outcome.Fired, cancellationToken);
        }
    }

    /// <summary>Delivers fired alerts to their rules' enabled channels (also used for budget alerts of the cost analysis).</summary>
    internal static async Task NotifyAsync(DbSession db, EnvelopeCipher cipher, NotificationSender sender, IReadOnlyList<Guid> alertIds, CancellationToken cancellationToken)
    {
        var alerts = await db.QueryAsync<AlertRow>(Alerts, new { Ids = alertIds.ToArray() }, cancellationToken);
        var channels = (await db.QueryAsync<ChannelRow>(Channels, new { RuleIds = alerts.Select(alert => alert.RuleId).Distinct().ToArray() }, cancellationToken))
            .ToLookup(channel => channel.RuleId);
        var deliveries = alerts.SelectMany(alert => channels[alert.RuleId].Select(async channel =>
        {
            var payload = new NotificationSender.Payload(
                alert.Id.ToString(), alert.RuleId, alert.RuleName, alert.RuleType, alert.InstanceId, alert.InstanceName, alert.Severity, alert.Title, alert.Message,
                alert.Status, alert.FiredAt, FleetVocabulary.JsonOrEmpty(alert.Metadata));
            var config = ChannelConfigs.Unseal(cipher, channel.Id, channel.ConfigSealed);
            var attempts = await sender.DeliverAsync(channel.Type, config, payload, retry: true, cancellationToken);
            return (Alert: alert, Channel: channel, Payload: payload, Attempts: attempts);
        })).ToList();

        foreach (var delivery in await Task.WhenAll(deliveries))
        {
            foreach (var attempt in delivery.Attempts)
            {
                await db.ExecuteAsync(
                    RecordAttempt,
                    new
                    {
                        Id = Guid.CreateVersion7(),
                        AlertId = delivery.Alert.Id,
                        ChannelId = delivery.Channel.Id,
                        ChannelName = delivery.Channel.Name,
                        ChannelType = delivery.Channel.Type,
                        Attempt = (long)attempt.Number,
                        attempt.SentAt,
                        attempt.Success,
                        StatusCode = (long?)attempt.StatusCode,
                        attempt.Error,
                        attempt.DurationMs,
                        Payload = JsonSerializer.Serialize(delivery.Payload, JsonSerializerOptions.Web),
                    },
                    cancellationToken);
            }
        }
    }

    private sealed record AlertRow
    {
        public Guid Id { get; init; }

        public Guid RuleId { get; init; }

        public string RuleName { get; init; } = string.Empty;

        public string RuleType { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string? InstanceName { get; init; }

        public string Severity { get; init; } = string.Empty;

        public string Title { get; init; } = string.Empty;

        public string Message { get; init; } = string.Empty;

        public string Status { get; init; } = string.Empty;

        public DateTime FiredAt { get; init; }

        public string Metadata { get; init; } = "{}";
    }

    private sealed record ChannelRow
    {
        public Guid RuleId { get; init; }

        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public string Type { get; init; } = string.Empty;

        public byte[] ConfigSealed { get; init; } = [];
    }
}
