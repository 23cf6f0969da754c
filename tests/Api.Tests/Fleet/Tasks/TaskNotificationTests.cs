using System.Net;
using System.Text.Json;
using Capstan.Features.Fleet.Tasks;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Fleet.Tasks;

/// <summary>Task notifications: a finished run is mailed to the task's notifyEmails through the SMTP stand-in, as the
/// task asks (failure, success), and each execution records whether its mail went out.</summary>
public sealed class TaskNotificationTests(FleetFixture fixture) : FleetTest(fixture)
{
    private TaskSchedulerJob Job => Fixture.Services.GetRequiredService<TaskSchedulerJob>();

    /// <summary>Triggers the task, waits for the agent's answer to finish the run, then runs a scheduler tick.</summary>
    private async Task<JsonElement> RunAsync(HttpClient client, Guid task, string expectedStatus)
    {
        await (await client.PostAsync($"/api/v1/tasks/{task}/trigger", null)).ShouldBeJsonAsync(HttpStatusCode.Accepted);
        JsonElement execution;
        var deadline = DateTime.UtcNow.AddSeconds(10);
        do
        {
            execution = (await (await client.GetAsync($"/api/v1/tasks/{task}/history")).ShouldBeJsonAsync()).GetProperty("executions")[0];
        }
        while (execution.GetProperty("status").GetString() == "RUNNING" && DateTime.UtcNow < deadline && await Task.Delay(50).ContinueWith(_ => true));

        execution.GetProperty("status").GetString().ShouldBe(expectedStatus);
        execution.GetProperty("notificationStatus").ValueKind.ShouldBe(JsonValueKind.Null);
        (await Job.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        return (await (await client.GetAsync($"/api/v1/tasks/{task}/history")).ShouldBeJsonAsync()).GetProperty("executions")[0];
    }

    private List<SmtpStandIn.Message> MailTo(string address) => [.. Fixture.Smtp.Messages.Where(message => message.To.Contains(address))];

    [Fact]
    public async Task A_failed_run_is_mailed_with_task_status_instance_and_output_and_a_success_only_when_asked()
    {
        var user = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var instance = await SeedInstanceAsync("builder");
        var client = await As(BaseRole.Viewer);
        var address = $"ops-{Guid.NewGuid():N}@capstan.test";
        var task = (await (await client.PostJsonAsync("/api/v1/tasks", new
        {
            name = "nightly cleanup",
            cron = "0 4 * * *",
            command = "sindri system cleanup",
            instanceId = instance,
            notifyOnFailure = true,
            notifyEmails = new[] { address, "lead@capstan.test" },
        }))
            .ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
        await using var agent = await SimulatedAgent.ConnectAsync(Fixture.Factory, instance.ToString(), await Fixture.CreateApiKeyAsync(user));
        agent.CommandHandler = dispatch => new
        {
            command_id = dispatch.GetProperty("command_id").GetString(),
            exit_code = 3,
            stdout = "removing caches\nerror: disk full",
            stderr = "cleanup aborted",
            duration_ms = 42,
        };

        var failed = await RunAsync(client, task, "FAILED");

        (failed.GetProperty("notificationStatus").GetString(), failed.GetProperty("notificationError").ValueKind).ShouldBe(("SENT", JsonValueKind.Null));
        var message = (await WaitForMailAsync(address, 1)).ShouldHaveSingleItem();
        message.To.ShouldBe([address, "lead@capstan.test"]);
        var mail = Text(message);
        mail.ShouldContain("Subject: [Capstan Task] FAILED: nightly cleanup on builder");
        mail.ShouldContain("Task: nightly cleanup");
        mail.ShouldContain("Status: FAILED");
        mail.ShouldContain($"Instance: builder ({instance})");
        mail.ShouldContain("Exit code: 3");
        mail.ShouldContain("Output summary:\nremoving caches\nerror: disk full");
        mail.ShouldContain("Errors:\ncleanup aborted");

        // A later tick does not mail the same run again.
        (await Job.TryRunAsync(CancellationToken.None)).ShouldBeTrue();
        Job.LastNotifications!.Sent.ShouldBe(0);

        // Success is not mailed until the task asks for it.
        agent.CommandHandler = dispatch => new { command_id = dispatch.GetProperty("command_id").GetString(), exit_code = 0, stdout = "freed 2 GB", stderr = string.Empty, duration_ms = 7 };
        (await RunAsync(client, task, "SUCCESS")).GetProperty("notificationStatus").GetString().ShouldBe("NONE");
        MailTo(address).Count.ShouldBe(1);

        await (await client.PutAsync($"/api/v1/tasks/{task}", new StringContent("""{"notifyOnSuccess": true, "notifyOnFailure": false}""", System.Text.Encoding.UTF8, "application/json")))
            .ShouldBeJsonAsync();
        (await RunAsync(client, task, "SUCCESS")).GetProperty("notificationStatus").GetString().ShouldBe("SENT");
        var success = Text((await WaitForMailAsync(address, 2))[1]);
        success.ShouldContain("Subject: [Capstan Task] SUCCESS: nightly cleanup on builder");
        success.ShouldContain("Output summary:\nfreed 2 GB");
    }

    /// <summary>The message's headers and its decoded text body (base64 or quoted-printable, as the mail client chose).</summary>
    private static string Text(SmtpStandIn.Message message)
    {
        var split = message.Data.IndexOf("\n\n", StringComparison.Ordinal);
        var headers = message.Data[..split];
        var body = message.Data[(split + 2)..];
        if (headers.Contains("Content-Transfer-Encoding: base64", StringComparison.OrdinalIgnoreCase))
        {
            body = System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(string.Concat(body.Split('\n', StringSplitOptions.RemoveEmptyEntries))));
        }
        else if (headers.Contains("Content-Transfer-Encoding: quoted-printable", StringComparison.OrdinalIgnoreCase))
        {
            var bytes = new List<byte>();
            var joined = body.Replace("=\n", string.Empty, StringComparison.Ordinal);
            for (var i = 0; i < joined.Length; i++)
            {
                if (joined[i] == '=' && i + 2 < joined.Length)
                {
                    bytes.Add(Convert.ToByte(joined.Substring(i + 1, 2), 16));
                    i += 2;
                }
                else
                {
                    bytes.AddRange(System.Text.Encoding.UTF8.GetBytes(joined[i].ToString()));
                }
            }

            body = System.Text.Encoding.UTF8.GetString([.. bytes]);
        }

        return headers + "\n\n" + body.Replace("\r\n", "\n", StringComparison.Ordinal);
    }

    private async Task<List<SmtpStandIn.Message>> WaitForMailAsync(string address, int count)
    {
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (MailTo(address).Count < count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        return MailTo(address);
    }
}
