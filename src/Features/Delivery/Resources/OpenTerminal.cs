using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Resources;

/// <summary>
/// <c>GET /v1/api/resources/{id}/exec/terminal?container=</c> (seed 002, WebSocket, reference §10): a shell
/// (<c>/bin/sh</c>, TTY) in one of the caller's pods, bridged to the Kubernetes exec subprotocol. Server → client JSON
/// <c>{type: "metadata", data: "{pod, container, namespace, cluster}"}</c>, <c>{type: "output", data}</c>,
/// <c>{type: "error", data}</c>, <c>{type: "close", data: "Terminal session completed"}</c>; client → server
/// <c>{type: "input", data}</c> and <c>{type: "resize", rows, cols}</c>. Browsers authenticate the upgrade with
/// <c>?ticket=</c> or <c>?token=</c>. A plain request is a 400; not a pod a 400; someone else's a 404. Audited.
/// </summary>
public static class OpenTerminal
{
    public sealed record Query(Guid Id, string? Container) : IQuery<Target>;

    public sealed record Target(ResourceRow Pod, string Container, RegisteredCluster Cluster);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.Id).NotEmpty();
            RuleFor(query => query.Container).MaximumLength(63);
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, ClusterDirectory directory) : IRequestHandler<Query, Target>
    {
        public async Task<Target> Handle(Query query, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var pod = await TrackedResources.GetOwnedAsync(db, query.Id, caller.UserId, cancellationToken);
            if (pod.Kind != "Pod")
            {
                throw new BadRequestException("Terminals open in pods. This resource is not a pod.");
            }

            var containers = (JsonNode.Parse(pod.Spec)?["containers"] as JsonArray ?? []).Select(container => NodeData.Text(container?["name"])).OfType<string>().ToList();
            var container = query.Container ?? containers.FirstOrDefault() ?? throw new BadRequestException("The pod has no containers");
            if (containers.Count > 0 && !containers.Contains(container))
            {
                throw BadRequestException.ForField("container", $"Container '{container}' is not in pod {pod.Name} ({string.Join(", ", containers)})");
            }

            var cluster = pod.ClusterId is { } clusterId ? await directory.FindVisibleAsync(clusterId.ToString(), caller, cancellationToken) : null;
            return new Target(pod, container, cluster ?? throw new NotFoundException($"Cluster '{pod.ClusterName}' not found"));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/v1/api/resources/{id}/exec/terminal", async (Guid id, string? container, HttpContext context, IMediator mediator, ClusterDirectory directory, AuditTrail audit) =>
                {
                    if (!context.WebSockets.IsWebSocketRequest)
                    {
                        throw new BadRequestException("This route is a WebSocket terminal: connect with a WebSocket upgrade");
                    }

                    var target = await mediator.Send(new Query(id, string.IsNullOrWhiteSpace(container) ? null : container.Trim()), context.RequestAborted);
                    var connection = directory.ConnectionOf(target.Cluster);
                    using var socket = await context.WebSockets.AcceptWebSocketAsync();
                    await audit.WriteNowAsync(
                        new AuditEntry("delivery.resource.exec", "resource", target.Pod.Id.ToString(), $"Pod {target.Pod.Namespace}/{target.Pod.Name}", new { container = target.Container, cluster = target.Cluster.Name }),
                        context.RequestAborted);
                    await BridgeAsync(socket, connection, target, context.RequestAborted);
                    return Results.Empty;
                })
                .RequirePermission(Permissions.DeliveryDeploy)
                .WithName("Delivery" + nameof(OpenTerminal))
                .WithTags(DeliveryRoutes.Resources)
                .WithSummary("WebSocket terminal session")
                .ProducesErrors(400, 401, 403, 404);
    }

    private static async Task BridgeAsync(WebSocket socket, ClusterConnection connection, Target target, CancellationToken aborted)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(aborted);
        var token = stop.Token;
        var send = new SemaphoreSlim(1, 1);
        async Task SendAsync(string type, string data)
        {
            var bytes = Encoding.UTF8.GetBytes(new JsonObject { ["type"] = type, ["data"] = data }.ToJsonString());
            await send.WaitAsync(CancellationToken.None);
            try
            {
                if (socket.State == WebSocketState.Open)
                {
                    await socket.SendAsync(bytes, WebSocketMessageType.Text, endOfMessage: true, CancellationToken.None);
                }
            }
            finally
            {
                send.Release();
            }
        }

        await SendAsync("metadata", new JsonObject
        {
            ["pod"] = target.Pod.Name,
            ["container"] = target.Container,
            ["namespace"] = target.Pod.Namespace,
            ["cluster"] = target.Pod.ClusterName,
        }.ToJsonString());
        KubernetesExec exec;
        try
        {
            exec = await KubernetesExec.ConnectAsync(connection, target.Cluster.Name, target.Pod.Namespace, target.Pod.Name, target.Container, ["/bin/sh"], tty: true, token);
        }
        catch (ApiException exception)
        {
            await SendAsync("error", exception.Message);
            await CloseAsync(socket, SendAsync);
            return;
        }

        await using (exec)
        {
            await exec.ResizeAsync(80, 24, token);
            var fromContainer = PumpOutputAsync(exec, SendAsync, token);
            var fromClient = PumpInputAsync(socket, exec, token);
            await Task.WhenAny(fromContainer, fromClient);
            await stop.CancelAsync();
            try
            {
                await Task.WhenAll(fromContainer, fromClient);
            }
            catch (OperationCanceledException)
            {
                // One side ended the session.
            }
            catch (WebSocketException)
            {
                // The browser went away.
            }
        }

        await CloseAsync(socket, SendAsync);
        send.Dispose();
    }

    private static async Task PumpOutputAsync(KubernetesExec exec, Func<string, string, Task> send, CancellationToken token)
    {
        await foreach (var frame in exec.ReadAsync(token))
        {
            if (frame.Channel is ExecFrame.Stdout or ExecFrame.Stderr)
            {
                await send("output", frame.Text);
            }
            else if (frame.Channel == ExecFrame.Error)
            {
                // The final Status: Success when the shell exited cleanly.
                var status = JsonNode.Parse(frame.Text) as JsonObject;
                if (NodeData.Text(status?["status"]) is { } result && result != "Success")
                {
                    await send("error", NodeData.Text(status?["message"]) ?? "The command failed");
                }

                return;
            }
        }
    }

    private static async Task PumpInputAsync(WebSocket socket, KubernetesExec exec, CancellationToken token)
    {
        var buffer = new byte[16 * 1024];
        while (socket.State == WebSocketState.Open && !token.IsCancellationRequested)
        {
            using var message = new MemoryStream();
            WebSocketReceiveResult result;
            do
            {
                result = await socket.ReceiveAsync(buffer, token);
                message.Write(buffer, 0, result.Count);
                if (message.Length > 1 << 20)
                {
                    return;
                }
            }
            while (!result.EndOfMessage);

            if (result.MessageType == WebSocketMessageType.Close)
            {
                return;
            }

            JsonObject? input;
            try
            {
                input = JsonNode.Parse(message.ToArray()) as JsonObject;
            }
            catch (JsonException)
            {
                continue;
            }

            switch (NodeData.Text(input?["type"]))
            {
                case "input" when NodeData.RawText(input!["data"]) is { Length: > 0 } data:
                    await exec.SendStdinAsync(data, token);
                    break;
                case "resize" when NodeData.Number(input!["cols"]) is { } cols && NodeData.Number(input["rows"]) is { } rows:
                    await exec.ResizeAsync((int)Math.Clamp(cols, 1, 1000), (int)Math.Clamp(rows, 1, 1000), token);
                    break;
            }
        }
    }

    private static async Task CloseAsync(WebSocket socket, Func<string, string, Task> send)
    {
        if (socket.State != WebSocketState.Open)
        {
            return;
        }

        await send("close", "Terminal session completed");
        try
        {
            using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseAsync(WebSocketCloseStatus.NormalClosure, "Terminal session completed", deadline.Token);
        }
        catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
        {
            // The browser is gone already.
        }
    }
}
