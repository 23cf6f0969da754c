using System.Net;
using System.Net.Mail;
using System.Text;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Notifications;

/// <summary>
/// Plain-text e-mail through the SMTP server a configuration section names: <c>Host</c> (required), <c>Port</c> (25),
/// <c>EnableSsl</c> (false), <c>Username</c>/<c>Password</c> (optional), <c>From</c> (<c>capstan@localhost</c>).
/// Callers decide what a failure means: <see cref="SendAsync"/> throws <see cref="SmtpException"/> (or
/// <see cref="OperationCanceledException"/> past the timeout) and never retries.
/// </summary>
public static class SmtpMail
{
    public const string NotConfigured = "E-mail is not configured: set Fleet:Smtp:Host (and Port, From)";

    public static bool IsConfigured(IConfigurationSection smtp) => smtp["Host"] is { Length: > 0 };

    /// <summary>Sends one message to every recipient; <see cref="InvalidOperationException"/> when no host is set.</summary>
    public static async Task SendAsync(
        IConfigurationSection smtp, IEnumerable<string> recipients, string subject, string body, TimeSpan timeout, CancellationToken cancellationToken)
    {
        if (smtp["Host"] is not { Length: > 0 } host)
        {
            throw new InvalidOperationException(NotConfigured);
        }

        using var client = new SmtpClient(host, smtp.GetValue("Port", 25))
        {
            EnableSsl = smtp.GetValue("EnableSsl", false),
            Timeout = (int)Math.Clamp(timeout.TotalMilliseconds, 1, int.MaxValue),
            DeliveryMethod = SmtpDeliveryMethod.Network,
        };
        if (smtp["Username"] is { Length: > 0 } username)
        {
            client.Credentials = new NetworkCredential(username, smtp["Password"]);
        }

        using var mail = new MailMessage
        {
            From = new MailAddress(smtp["From"] is { Length: > 0 } from ? from : "capstan@localhost"),
            Subject = subject,
            Body = body,
            BodyEncoding = Encoding.UTF8,
            SubjectEncoding = Encoding.UTF8,
        };
        foreach (var recipient in recipients)
        {
            mail.To.Add(recipient);
        }

        await client.SendMailAsync(mail, cancellationToken);
    }
}
