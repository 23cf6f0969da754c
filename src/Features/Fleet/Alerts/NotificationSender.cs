using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Mail;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Notifications;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Alerts;

/// <summary>
/// Delivers an alert to one channel (reference sindri.md §9.3): WEBHOOK posts the alert JSON with
/// <c>X-Sindri-Signature: sha256=&lt;HMAC-SHA256(secret, body)&gt;</c> when a secret is set; SLACK posts an
/// incoming-webhook message; EMAIL sends through the SMTP server of <c>Fleet:Smtp</c>; IN_APP raises the alert for the
/// console's users on the event hub. Each attempt has a deadline (<c>Fleet:Notifications:TimeoutSeconds</c>, 10) and a
/// failed one is retried (<c>MaxAttempts</c> 3, backoff from <c>RetryDelayMs</c> 1000, doubling) unless the failure is
/// final (a 4xx other than 408/429, a missing SMTP server). Every attempt is returned, for the caller to record.
/// </summary>
internal sealed class NotificationSender(IHttpClientFactory httpClients, IConfiguration configuration, EventHub hub)
{
    public const string HttpClientName = "fleet-notifications";
    public const string UserAgent = "Capstan/1.0 (Sindri-Console compatible)";

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private TimeSpan Timeout => TimeSpan.FromSeconds(configuration.GetValue("Fleet:Notifications:TimeoutSeconds", 10.0));

    private int MaxAttempts => Math.Clamp(configuration.GetValue("Fleet:Notifications:MaxAttempts", 3), 1, 10);

    private TimeSpan RetryDelay => TimeSpan.FromMilliseconds(configuration.GetValue("Fleet:Notifications:RetryDelayMs", 1000));

    /// <summary>The alert as a notification carries it (the webhook body).</summary>
    public sealed record Payload(
        string AlertId, Guid RuleId, string RuleName, string RuleType, Guid? InstanceId, string? InstanceName, string Severity, string Title, string Message,
        string Status, DateTime FiredAt, JsonElement Metadata);

    public sealed record Attempt(int Number, bool Success, int? StatusCode, string? Error, long DurationMs, DateTime SentAt);

    /// <summary>Delivers with retries (<paramref name="retry"/> false: one attempt, as a channel test does).</summary>
    public async Task<List<Attempt>> DeliverAsync(string type, JsonObject config, Payload payload, bool retry, CancellationToken cancellationToken)
    {
        var attempts = new List<Attempt>();
        var limit = retry ? MaxAttempts : 1;
        for (var number = 1; number <= limit; number++)
        {
            if (number > 1)
            {
                await Task.Delay(RetryDelay * Math.Pow(2, number - 2), cancellationToken);
            }

            var sentAt = DateTime.UtcNow;
            var watch = Stopwatch.StartNew();
            var (success, status, error, final) = await AttemptAsync(type, config, payload, cancellationToken);
            attempts.Add(new Attempt(number, success, status, error, watch.ElapsedMilliseconds, sentAt));
            if (success || final)
            {
                break;
            }
        }

        return attempts;
    }

    private async Task<(bool Success, int? Status, string? Error, bool Final)> AttemptAsync(string type, JsonObject config, Payload payload, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Timeout);
        try
        {
            return type switch
            {
                "WEBHOOK" => await PostAsync(
                    config["url"]!.GetValue<string>(),
                    config["method"]?.GetValue<string>() ?? "POST",
                    JsonSerializer.SerializeToUtf8Bytes(payload, Json),
                    config["headers"] as JsonObject,
                    config["secret"]?.GetValue<string>(),
                    deadline.Token),
                "SLACK" => await PostAsync(config["webhook_url"]!.GetValue<string>(), "POST", SlackMessage(config, payload), null, null, deadline.Token),
                "EMAIL" => await MailAsync(config, payload, deadline.Token),
                _ => await InAppAsync(config, payload, deadline.Token),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, null, $"Timed out after {Timeout.TotalSeconds:0.#} s", false);
        }
        catch (HttpRequestException exception)
        {
            return (false, null, exception.Message, false);
        }
        catch (SmtpException exception)
        {
            return (false, null, $"SMTP: {exception.Message}", false);
        }
    }

    private async Task<(bool, int?, string?, bool)> PostAsync(
        string url, string method, byte[] body, JsonObject? headers, string? secret, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(new HttpMethod(method), url) { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
        request.Headers.UserAgent.ParseAdd(UserAgent);
        foreach (var (name, value) in headers ?? new JsonObject())
        {
            request.Headers.TryAddWithoutValidation(name, value?.GetValue<string>());
        }

        if (!string.IsNullOrEmpty(secret))
        {
            request.Headers.TryAddWithoutValidation("X-Sindri-Signature", Signature(secret, body));
        }

        using var response = await httpClients.CreateClient(HttpClientName).SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        var status = (int)response.StatusCode;
        if (response.IsSuccessStatusCode)
        {
            return (true, status, null, false);
        }

        var final = status is >= 400 and < 500 and not 408 and not 429;
        return (false, status, $"The endpoint answered {status} {response.ReasonPhrase}", final);
    }

    /// <summary><c>sha256=</c> and the lower-case hex HMAC-SHA256 of the exact body bytes, keyed by the secret.</summary>
    public static string Signature(string secret, byte[] body) =>
        "sha256=" + Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    private static byte[] SlackMessage(JsonObject config, Payload payload)
    {
        var (color, emoji) = payload.Severity switch
        {
            "CRITICAL" => ("#FF0000", ":red_circle:"),
            "HIGH" => ("#FF6600", ":large_orange_circle:"),
            "MEDIUM" => ("#FFA500", ":large_yellow_circle:"),
            "LOW" => ("#0099FF", ":large_blue_circle:"),
            _ => ("#999999", ":white_circle:"),
        };
        var fields = new List<object>
        {
            new { title = "Severity", value = payload.Severity, @short = true },
            new { title = "Rule", value = payload.RuleName, @short = true },
        };
        if ((payload.InstanceName ?? payload.InstanceId?.ToString()) is { } instance)
        {
            fields.Add(new { title = "Instance", value = instance, @short = true });
        }

        fields.Add(new { title = "Fired At", value = payload.FiredAt.ToString("O", CultureInfo.InvariantCulture), @short = true });
        var message = new Dictionary<string, object?>
        {
            ["username"] = config["username"]?.GetValue<string>() ?? "Sindri Alerts",
            ["icon_emoji"] = config["icon_emoji"]?.GetValue<string>() ?? ":bell:",
            ["text"] = $"{emoji} {payload.Title}",
            ["attachments"] = new[]
            {
                new Dictionary<string, object?>
                {
                    ["color"] = color,
                    ["title"] = $"{emoji} {payload.Title}",
                    ["text"] = payload.Message,
                    ["fields"] = fields,
                    ["footer"] = "Capstan",
                    ["ts"] = new DateTimeOffset(payload.FiredAt, TimeSpan.Zero).ToUnixTimeSeconds(),
                },
            },
        };
        if (config["channel"]?.GetValue<string>() is { } channel)
        {
            message["channel"] = channel;
        }

        return JsonSerializer.SerializeToUtf8Bytes(message);
    }

    private async Task<(bool, int?, string?, bool)> MailAsync(JsonObject config, Payload payload, CancellationToken cancellationToken)
    {
        var smtp = configuration.GetSection("Fleet:Smtp");
        if (!SmtpMail.IsConfigured(smtp))
        {
            return (false, null, SmtpMail.NotConfigured, true);
        }

        var prefix = config["subject_prefix"]?.GetValue<string>() ?? "[Sindri Alert]";
        var body = string.Join(
            "\n",
            payload.Message,
            string.Empty,
            $"Rule: {payload.RuleName} ({payload.RuleType})",
            $"Instance: {payload.InstanceName ?? payload.InstanceId?.ToString() ?? "fleet"}",
            $"Severity: {payload.Severity}",
            $"Fired at: {payload.FiredAt.ToString("O", CultureInfo.InvariantCulture)}",
            $"Alert: {payload.AlertId}");
        await SmtpMail.SendAsync(
            smtp, config["recipients"]!.AsArray().Select(recipient => recipient!.GetValue<string>()), $"{prefix} {payload.Severity}: {payload.Title}", body, Timeout, cancellationToken);
        return (true, null, null, false);
    }

    private async Task<(bool, int?, string?, bool)> InAppAsync(JsonObject config, Payload payload, CancellationToken cancellationToken)
    {
        var users = config["user_ids"] is JsonArray ids ? ids.Select(id => id!.GetValue<string>()).ToArray() : [];
        await hub.PublishAsync("fleet.notifications", new { type = "alert", userIds = users, alert = payload }, cancellationToken);
        return (true, null, null, false);
    }
}
