using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Capstan.Infrastructure.Http;

/// <summary>
/// Writes a <c>text/event-stream</c> response: events as <c>id:</c>/<c>event:</c>/<c>data:</c> lines, comments (for
/// heartbeats such as <c>: heartbeat</c>), each flushed at once, with response buffering and proxy buffering off.
/// </summary>
public sealed class ServerSentEvents
{
    private readonly HttpResponse _response;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    private ServerSentEvents(HttpResponse response) => _response = response;

    /// <summary>Starts the stream: headers out, ready for events.</summary>
    public static async Task<ServerSentEvents> StartAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache, no-transform";
        response.Headers.Connection = "keep-alive";
        response.Headers["X-Accel-Buffering"] = "no";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.Body.FlushAsync(context.RequestAborted);
        return new ServerSentEvents(response);
    }

    /// <summary>Writes one event; <paramref name="data"/> may span lines.</summary>
    public Task WriteEventAsync(string? eventName, string data, string? id = null, CancellationToken cancellationToken = default) =>
        WriteFramesAsync([Frame(eventName, data, id)], cancellationToken);

    /// <summary>One event as the bytes a stream writes: built once and shared when the same event goes to many
    /// streams (a hub message fanned out to every subscriber of a replica).</summary>
    public static byte[] Frame(string? eventName, string data, string? id = null)
    {
        var frame = new StringBuilder();
        if (id is not null)
        {
            frame.Append("id: ").Append(Clean(id)).Append('\n');
        }

        if (eventName is not null)
        {
            frame.Append("event: ").Append(Clean(eventName)).Append('\n');
        }

        foreach (var line in data.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n'))
        {
            frame.Append("data: ").Append(line).Append('\n');
        }

        frame.Append('\n');
        return Encoding.UTF8.GetBytes(frame.ToString());
    }

    /// <summary>Writes prepared frames (see <see cref="Frame"/>) and flushes once.</summary>
    public async Task WriteFramesAsync(IReadOnlyList<ReadOnlyMemory<byte>> frames, CancellationToken cancellationToken = default)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            foreach (var frame in frames)
            {
                await _response.Body.WriteAsync(frame, cancellationToken);
            }

            await _response.Body.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    /// <summary>Writes a comment line (<c>: text</c>), which clients ignore: used for heartbeats.</summary>
    public Task WriteCommentAsync(string text, CancellationToken cancellationToken = default) => WriteAsync($": {Clean(text)}\n\n", cancellationToken);

    private async Task WriteAsync(string frame, CancellationToken cancellationToken)
    {
        await _writeLock.WaitAsync(cancellationToken);
        try
        {
            await _response.WriteAsync(frame, cancellationToken);
            await _response.Body.FlushAsync(cancellationToken);
        }
        finally
        {
            _writeLock.Release();
        }
    }

    private static string Clean(string value) => value.Replace("\n", " ", StringComparison.Ordinal).Replace("\r", " ", StringComparison.Ordinal);
}
