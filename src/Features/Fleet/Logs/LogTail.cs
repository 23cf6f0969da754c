using System.Text.Json;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Logs;

/// <summary>
/// A live log tail over Server-Sent Events, fed by the event hub, so lines ingested on any replica reach it: first a
/// <c>connected</c> frame, then one <c>data:</c> frame per log line (unnamed events, as EventSource's
/// <c>onmessage</c> reads them), and a <c>: heartbeat</c> comment every <c>Fleet:Sse:HeartbeatSeconds</c> (30) so
/// proxies keep the stream open. Ends when the client goes away or the service stops.
/// </summary>
internal static class LogTail
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    public static async Task RunAsync(
        HttpContext context, EventHub hub, IConfiguration configuration, IReadOnlySet<Guid> instanceIds, string[] levels, string[] sources, object connected)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var cancellationToken = stop.Token;
        var heartbeat = TimeSpan.FromSeconds(configuration.GetValue("Fleet:Sse:HeartbeatSeconds", 30.0));

        // The first MoveNextAsync registers the subscription before anything is written, so no line is missed.
        var messages = hub.SubscribeAsync("fleet.logs", cancellationToken).GetAsyncEnumerator(cancellationToken);
        var next = messages.MoveNextAsync().AsTask();
        try
        {
            var stream = await ServerSentEvents.StartAsync(context);
            await stream.WriteEventAsync(null, JsonSerializer.Serialize(connected, Json), cancellationToken: cancellationToken);
            // One heartbeat timer at a time, not one per message: with a thousand tails each message would start a
            // thousand timers that outlive it.
            var beat = Task.Delay(heartbeat, cancellationToken);
            var matching = new List<ReadOnlyMemory<byte>>();
            while (!cancellationToken.IsCancellationRequested)
            {
                if (await Task.WhenAny(next, beat) == beat)
                {
                    await stream.WriteCommentAsync("heartbeat", cancellationToken);
                    beat = Task.Delay(heartbeat, cancellationToken);
                    continue;
                }

                if (!await next)
                {
                    return;
                }

                var message = messages.Current;
                next = messages.MoveNextAsync().AsTask();
                matching.Clear();
                foreach (var (log, frame) in message.Decoded(Lines))
                {
                    if (instanceIds.Contains(log.InstanceId)
                        && (levels.Length == 0 || levels.Contains(log.Level))
                        && (sources.Length == 0 || sources.Contains(log.Source)))
                    {
                        matching.Add(frame);
                    }
                }

                if (matching.Count > 0)
                {
                    await stream.WriteFramesAsync(matching, cancellationToken);
                }
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or IOException)
        {
            // The client went away.
        }
        finally
        {
            // End the subscription, let the pending read finish, then release it.
            await stop.CancelAsync();
            try
            {
                await next;
            }
            catch (OperationCanceledException)
            {
            }

            await messages.DisposeAsync();
        }
    }

    /// <summary>A message's log lines, each with the SSE frame the stream writes: decoded, serialized and encoded once
    /// per message on this replica, then shared by every tail.</summary>
    private static LogLine[] Lines(JsonElement data) =>
        data.ValueKind == JsonValueKind.Object && data.TryGetProperty("logs", out var logs) && logs.ValueKind == JsonValueKind.Array
            ? [.. (logs.Deserialize<List<LogView>>(Json) ?? []).Select(log => new LogLine(log, ServerSentEvents.Frame(null, JsonSerializer.Serialize(log, Json))))]
            : [];

    private sealed record LogLine(LogView Log, ReadOnlyMemory<byte> Frame);
}
