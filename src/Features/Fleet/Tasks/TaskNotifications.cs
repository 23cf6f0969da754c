using System.Globalization;
using System.Net.Mail;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Notifications;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Tasks;

/// <summary>
/// E-mails the outcome of finished task executions (reference sindri.md §8.12) to the task's <c>notifyEmails</c>:
/// FAILED, TIMED_OUT and SKIPPED runs when <c>notifyOnFailure</c>, SUCCESS runs when <c>notifyOnSuccess</c>, one message
/// per execution (task name, status, instance, command, exit code, timing and the tail of the output), through the SMTP
/// server of <c>Fleet:Smtp</c> as the alert EMAIL channel sends. The scheduler job sends after each tick, so whatever
/// started the run (schedule, retry, manual trigger), the mail follows within a tick of the agent's answer. A failed run
/// that will be retried is not reported (the retry's outcome is). Each execution records the outcome
/// (<c>notificationStatus</c> SENT, FAILED with <c>notificationError</c>, NONE, RETRYING); a mail that cannot be sent
/// is logged and recorded, never changes the execution.
/// </summary>
internal sealed class TaskNotifications(DbSession db, IConfiguration configuration, ILogger logger)
{
    public sealed record Outcome(int Sent, int Failed, int Skipped);

    /// <summary>How much of stdout and stderr a mail quotes (the last lines).</summary>
    public const int SummaryChars = 2000;

    private static readonly string[] FailureStatuses = ["FAILED", "TIMED_OUT", "SKIPPED"];

    private const string Pending = $"""
        SELECT x.id, x.task_id, t.name AS task_name, t.command, t.status AS task_status, t.max_retries, t.notify_on_failure, t.notify_on_success, t.notify_emails,
               ({TaskExecutionView.StatusExpression}) AS status, x.instance_id, i.name AS instance_name, c.exit_code, c.stdout, COALESCE(c.stderr, x.stderr) AS stderr,
               x.started_at, c.completed_at AS finished_at, c.duration_ms, x.triggered_by, x.attempt
        FROM {TaskExecutionView.From}
        JOIN fleet.scheduled_tasks t ON t.id = x.task_id
        WHERE x.notification_status IS NULL AND x.started_at > @Since
          AND ({TaskExecutionView.StatusExpression}) IN ('SUCCESS', 'FAILED', 'TIMED_OUT', 'SKIPPED')
        ORDER BY x.started_at, x.id
        LIMIT 100
        """;

    private const string Record = """
        UPDATE fleet.task_executions SET notification_status = @Status, notification_error = @Error, notified_at = @Now
        WHERE id = @Id AND notification_status IS NULL
        """;

    private TimeSpan Timeout => TimeSpan.FromSeconds(configuration.GetValue("Fleet:Notifications:TimeoutSeconds", 10.0));

    /// <summary>Handles every finished execution of the last day not handled yet.</summary>
    public async Task<Outcome> SendPendingAsync(DateTime now, CancellationToken cancellationToken)
    {
        int sent = 0, failed = 0, skipped = 0;
        var smtp = configuration.GetSection("Fleet:Smtp");
        foreach (var execution in await db.QueryAsync<Row>(Pending, new { Since = now.AddDays(-1) }, cancellationToken))
        {
            var failure = FailureStatuses.Contains(execution.Status);
            var retried = execution.Status is "FAILED" or "TIMED_OUT" && execution.InstanceId is not null && execution.TaskStatus == "ACTIVE"
                && execution.Attempt <= execution.MaxRetries;
            var wanted = failure ? execution.NotifyOnFailure : execution.NotifyOnSuccess;
            string status;
            string? error = null;
            if (retried)
            {
                status = "RETRYING";
            }
            else if (!wanted || execution.NotifyEmails.Length == 0)
            {
                status = "NONE";
            }
            else
            {
                try
                {
                    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                    deadline.CancelAfter(Timeout);
                    await SmtpMail.SendAsync(smtp, execution.NotifyEmails, Subject(execution), Body(execution), Timeout, deadline.Token);
                    status = "SENT";
                }
                catch (Exception exception) when (exception is SmtpException or InvalidOperationException or FormatException
                                                      or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    status = "FAILED";
                    error = exception is OperationCanceledException ? $"Timed out after {Timeout.TotalSeconds:0.#} s" : exception.Message;
                    logger.LogWarning("Task {Task} execution {Execution}: the {Outcome} notification was not sent: {Error}", execution.TaskName, execution.Id, execution.Status, error);
                }
            }

            await db.ExecuteAsync(Record, new { execution.Id, Status = status, Error = error, Now = now }, cancellationToken);
            switch (status)
            {
                case "SENT":
                    sent++;
                    break;
                case "FAILED":
                    failed++;
                    break;
                default:
                    skipped++;
                    break;
            }
        }

        return new Outcome(sent, failed, skipped);
    }

    internal static string Subject(Row execution) =>
        $"[Capstan Task] {execution.Status}: {execution.TaskName} on {execution.InstanceName ?? execution.InstanceId?.ToString() ?? "no instance"}";

    internal static string Body(Row execution)
    {
        var lines = new List<string>
        {
            $"Task: {execution.TaskName} ({execution.TaskId})",
            $"Status: {execution.Status}",
            $"Instance: {execution.InstanceName ?? "unknown"}{(execution.InstanceId is { } id ? $" ({id})" : string.Empty)}",
            $"Command: {execution.Command}",
            $"Exit code: {(execution.ExitCode is { } code ? code.ToString(CultureInfo.InvariantCulture) : "none")}",
            $"Triggered by: {execution.TriggeredBy} (attempt {execution.Attempt})",
            $"Started at: {execution.StartedAt.ToString("O", CultureInfo.InvariantCulture)}",
        };
        if (execution.FinishedAt is { } finished)
        {
            lines.Add($"Finished at: {finished.ToString("O", CultureInfo.InvariantCulture)}");
        }

        if (execution.DurationMs is { } duration)
        {
            lines.Add($"Duration: {duration} ms");
        }

        lines.Add(string.Empty);
        lines.Add("Output summary:");
        lines.Add(Summary(execution.Stdout) ?? "(no output)");
        if (Summary(execution.Stderr) is { } errors)
        {
            lines.Add(string.Empty);
            lines.Add("Errors:");
            lines.Add(errors);
        }

        lines.Add(string.Empty);
        lines.Add($"Execution: {execution.Id}");
        return string.Join("\n", lines);
    }

    /// <summary>The last <see cref="SummaryChars"/> characters of <paramref name="text"/>, trimmed; null when empty.</summary>
    internal static string? Summary(string? text)
    {
        var trimmed = text?.Trim();
        if (string.IsNullOrEmpty(trimmed))
        {
            return null;
        }

        return trimmed.Length <= SummaryChars ? trimmed : "…" + trimmed[^SummaryChars..];
    }

    internal sealed record Row
    {
        public Guid Id { get; init; }

        public Guid TaskId { get; init; }

        public string TaskName { get; init; } = string.Empty;

        public string Command { get; init; } = string.Empty;

        public string TaskStatus { get; init; } = string.Empty;

        public long MaxRetries { get; init; }

        public bool NotifyOnFailure { get; init; }

        public bool NotifyOnSuccess { get; init; }

        public string[] NotifyEmails { get; init; } = [];

        public string Status { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string? InstanceName { get; init; }

        public long? ExitCode { get; init; }

        public string? Stdout { get; init; }

        public string? Stderr { get; init; }

        public DateTime StartedAt { get; init; }

        public DateTime? FinishedAt { get; init; }

        public long? DurationMs { get; init; }

        public string TriggeredBy { get; init; } = string.Empty;

        public long Attempt { get; init; }
    }
}
