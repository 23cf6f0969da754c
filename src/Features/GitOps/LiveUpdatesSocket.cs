using System.Net.WebSockets;
using System.Text;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.GitOps;

/// <summary>
/// <c>GET /api/v1/ws</c> (seed 001): the live Flux feed of <c>/api/v1/events</c> over a WebSocket, one JSON text message
/// per event (CONNECTED, ADDED/MODIFIED/DELETED, HEARTBEAT, SHUTDOWN). Authenticated like any route, or with a
/// single-use <c>?ticket=</c> from <c>POST /api/v1/ws/ticket</c> for browsers; <c>?cluster=</c> picks the cluster.
/// A plain HTTP request is a 400. The same caps and cluster-wide read policy apply.
/// </summary>
public static class LiveUpdatesSocket
{
    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/ws", async (string? cluster, HttpContext context, CancellationToken cancellationToken) =>
                {
                    if (!context.WebSockets.IsWebSocketRequest)
                    {
                        throw new BadRequestException("This endpoint expects a WebSocket upgrade (Connection: Upgrade, Upgrade: websocket)");
                    }

                    await using var feed = await FluxLiveFeed.OpenAsync(context, cluster, cancellationToken);
                    using var socket = await context.WebSockets.AcceptWebSocketAsync();
                    using var closed = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
                    var reading = ReadUntilClosedAsync(socket, closed);
                    await feed.RunAsync((data, token) => socket.SendAsync(Encoding.UTF8.GetBytes(data), WebSocketMessageType.Text, true, token), closed.Token);
                    if (socket.State is WebSocketState.Open or WebSocketState.CloseReceived)
                    {
                        // Completes the closing handshake whoever started it.
                        await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "closing", CancellationToken.None);
                    }

                    await closed.CancelAsync();
                    await reading;
                    return Results.Empty;
                })
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(LiveUpdatesSocket))
                .WithTags(GitOpsRoutes.Live)
                .WithSummary("Live Flux changes over a WebSocket")
                .ProducesErrors(400, 401, 403, 404, 429, 503);

        // Client messages are not needed; reading notices when the client closes or goes away.
        private static async Task ReadUntilClosedAsync(WebSocket socket, CancellationTokenSource closed)
        {
            var buffer = new byte[1024];
            try
            {
                while (socket.State == WebSocketState.Open)
                {
                    var result = await socket.ReceiveAsync(buffer, closed.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        break;
                    }
                }
            }
            catch (Exception exception) when (exception is OperationCanceledException or WebSocketException)
            {
                // Gone.
            }
            finally
            {
                await closed.CancelAsync();
            }
        }
    }
}
