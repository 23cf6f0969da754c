using System.Text.Json;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Alerts;

/// <summary>Arrange-helpers of the alert handler tests: alerts and notification records written straight to the
/// database, JSON bodies, and the audit rows a command left.</summary>
internal static class AlertArrange
{
    public static JsonElement Json(string json)
    {
        using var document = JsonDocument.Parse(json);
        return document.RootElement.Clone();
    }

    public static async Task<Guid> AlertAsync(
        this ApiFixture fixture, Guid rule, Guid? instance = null, string status = "ACTIVE", string severity = "HIGH", DateTime? firedAt = null, string title = "cpu high")
    {
        var id = Guid.CreateVersion7();
        await fixture.ExecuteAsync(
            """
            INSERT INTO fleet.alerts (id, rule_id, instance_id, status, severity, title, message, metadata, dedupe_key, fired_at)
            VALUES (@Id, @Rule, @Instance, @Status, @Severity, @Title, @Message, '{"value": 93.5}', @Dedupe, @FiredAt)
            """,
            new
            {
                Id = id,
                Rule = rule,
                Instance = instance,
                Status = status,
                Severity = severity,
                Title = title,
                Message = $"message of {title}",
                Dedupe = $"{rule}:{id}",
                FiredAt = firedAt ?? DateTime.UtcNow,
            });
        return id;
    }

    public static async Task<Guid> NotificationAsync(this ApiFixture fixture, Guid alert, Guid? channel, int attempt, bool success, DateTime sentAt, string? error = null)
    {
        var id = Guid.CreateVersion7();
        await fixture.ExecuteAsync(
            """
            INSERT INTO fleet.alert_notifications (id, alert_id, channel_id, channel_name, channel_type, attempt, sent_at, success, status_code, error, duration_ms)
            VALUES (@Id, @Alert, @Channel, 'ops hook', 'WEBHOOK', @Attempt, @SentAt, @Success, @StatusCode, @Error, 42)
            """,
            new { Id = id, Alert = alert, Channel = channel, Attempt = (long)attempt, SentAt = sentAt, Success = success, StatusCode = success ? 200L : 500L, Error = error });
        return id;
    }

    /// <summary>The audit rows about <paramref name="resourceId"/> (or, when null, those of <paramref name="action"/>), oldest first.</summary>
    public static Task<List<AuditRow>> AuditAsync(this ApiFixture fixture, string? resourceId, string? action = null) =>
        fixture.QueryAsync<AuditRow>(
            """
            SELECT action, actor_id, resource_name, metadata::text AS metadata FROM identity.audit_log
            WHERE (@ResourceId::text IS NULL OR resource_id = @ResourceId) AND (@Action::text IS NULL OR action = @Action)
            ORDER BY occurred_at, id
            """,
            new { ResourceId = resourceId, Action = action });

    internal sealed record AuditRow
    {
        public string Action { get; init; } = string.Empty;

        public Guid? ActorId { get; init; }

        public string? ResourceName { get; init; }

        public string Metadata { get; init; } = "{}";
    }
}
