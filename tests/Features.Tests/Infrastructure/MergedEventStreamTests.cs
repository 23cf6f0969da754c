using System.Text;
using Capstan.Infrastructure.Http;
using Microsoft.AspNetCore.Http;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The merged SSE stream on its own: frames in order, the final event ends it, heartbeats between, and every
/// producer is stopped when it ends.</summary>
public sealed class MergedEventStreamTests
{
    [Fact]
    public async Task Frames_are_written_in_order_until_the_final_event_and_every_producer_is_stopped()
    {
        var (context, body) = Context();
        var producerStopped = new TaskCompletionSource();
        await using (var stream = new MergedEventStream(context.RequestAborted))
        {
            var sse = await ServerSentEvents.StartAsync(context);
            stream.Add(Task.Run(async () =>
            {
                await stream.Frames.WriteAsync(("progress", "{\"n\":1}"), stream.Token);
                await stream.Frames.WriteAsync(("complete", "done"), stream.Token);
                await stream.Frames.WriteAsync(("progress", "{\"n\":2}"), stream.Token);
            }));
            stream.Add(Task.Run(async () =>
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, stream.Token);
                }
                finally
                {
                    producerStopped.SetResult();
                }
            }));

            await stream.PumpAsync(sse, TimeSpan.FromMinutes(1), name => name == "complete").WaitAsync(TimeSpan.FromSeconds(10));
            stream.Token.IsCancellationRequested.ShouldBeTrue();
        }

        producerStopped.Task.IsCompleted.ShouldBeTrue("a producer still running when the stream ended was cancelled and awaited");
        var text = Encoding.UTF8.GetString(body.ToArray());
        text.ShouldContain("event: progress\ndata: {\"n\":1}\n\n");
        text.ShouldContain("event: complete\ndata: done\n\n");
        text.ShouldNotContain("\"n\":2");
        text.IndexOf("progress", StringComparison.Ordinal).ShouldBeLessThan(text.IndexOf("complete", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Heartbeats_are_comments_and_a_client_leaving_ends_the_pump()
    {
        using var leave = new CancellationTokenSource();
        var (context, body) = Context(leave.Token);
        await using var stream = new MergedEventStream(context.RequestAborted);
        var sse = await ServerSentEvents.StartAsync(context);

        var pump = stream.PumpAsync(sse, TimeSpan.FromMilliseconds(50), _ => false);
        // Wait for the first heartbeat rather than a fixed time: on a busy machine a timer can fire late.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (body.Length == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(20);
        }

        await leave.CancelAsync();
        await pump.WaitAsync(TimeSpan.FromSeconds(10));

        Encoding.UTF8.GetString(body.ToArray()).ShouldContain(": heartbeat\n\n");
    }

    private static (DefaultHttpContext Context, MemoryStream Body) Context(CancellationToken aborted = default)
    {
        var body = new MemoryStream();
        var context = new DefaultHttpContext { RequestAborted = aborted };
        context.Response.Body = body;
        return (context, body);
    }
}
