using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Hosting;

namespace Capstan.Infrastructure.Http;

/// <summary>
/// Graceful shutdown for live streams (DESIGN §7): on SIGTERM the host stops accepting and waits for in-flight
/// requests, which an open SSE stream never finishes by itself. For stream requests (<c>Accept: text/event-stream</c>,
/// or a route that only produces <c>text/event-stream</c>) this links the request's cancellation to the host stopping,
/// so the stream's loop ends, and then writes a final <c>event: shutdown</c> (clients reconnect, reaching another
/// replica) before the response completes normally. Other requests are left alone and finish as usual.
/// </summary>
public sealed class StreamShutdownMiddleware(RequestDelegate next, IHostApplicationLifetime lifetime)
{
    public const string FinalEvent = "event: shutdown\ndata: {\"reason\":\"server shutting down\",\"reconnect\":true}\n\n";

    public async Task InvokeAsync(HttpContext context)
    {
        if (!IsStream(context))
        {
            await next(context);
            return;
        }

        var original = context.RequestAborted;
        var stopping = lifetime.ApplicationStopping;
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(original, stopping);
        context.RequestAborted = linked.Token;
        try
        {
            await next(context);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested && !original.IsCancellationRequested)
        {
            // The host is stopping: the stream ends here, with its final event below.
        }
        finally
        {
            context.RequestAborted = original;
        }

        if (stopping.IsCancellationRequested && !original.IsCancellationRequested && context.Response.HasStarted
            && context.Response.ContentType?.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase) == true)
        {
            try
            {
                await context.Response.WriteAsync(FinalEvent, original);
                await context.Response.Body.FlushAsync(original);
            }
            catch (Exception exception) when (exception is IOException or OperationCanceledException or ObjectDisposedException)
            {
                // The client left meanwhile.
            }
        }
    }

    private static bool IsStream(HttpContext context)
    {
        if (context.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        var produces = context.GetEndpoint()?.Metadata.GetOrderedMetadata<IProducesResponseTypeMetadata>()
            .Where(metadata => metadata.StatusCode == StatusCodes.Status200OK)
            .SelectMany(metadata => metadata.ContentTypes)
            .ToList();
        return produces is { Count: > 0 } && produces.All(type => type.StartsWith("text/event-stream", StringComparison.OrdinalIgnoreCase));
    }
}
