using System.Collections.Concurrent;
using System.Net;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Tests.Support.Kubernetes;

/// <summary>
/// A front for a <see cref="FakeKubernetesApi"/> that adds what it lacks: the pod exec subresource over WebSocket with
/// the Kubernetes channel subprotocol (<c>v5.channel.k8s.io</c>/<c>v4.channel.k8s.io</c>: one channel byte, then
/// data — 0 stdin, 1 stdout, 2 stderr, 3 the final Status, 4 resize). The "container" runs a tiny shell: <c>echo</c>
/// prints, <c>hostname</c> prints the pod, <c>exit</c> ends with Success, <c>false</c> ends with a Failure status, anything
/// else is "not found" on stderr. Every other request is passed on to the fake API server unchanged, so a cluster
/// registered with this server's URL behaves as the fake does.
/// </summary>
public sealed class FakeExecServer : IAsyncDisposable
{
    private static readonly HttpClient Proxy = new(new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false }) { Timeout = Timeout.InfiniteTimeSpan };

    private readonly WebApplication _app;
    private readonly FakeKubernetesApi _api;

    private FakeExecServer(WebApplication app, FakeKubernetesApi api)
    {
        _app = app;
        _api = api;
    }

    public string BaseUrl { get; private set; } = string.Empty;

    /// <summary>Terminal sizes the sessions asked for, in order.</summary>
    public ConcurrentQueue<(int Width, int Height)> Resizes { get; } = new();

    /// <summary>The exec requests received: namespace/pod/container and the command.</summary>
    public ConcurrentQueue<string> Sessions { get; } = new();

    public static async Task<FakeExecServer> StartAsync(FakeKubernetesApi api)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new FakeExecServer(app, api);
        app.UseWebSockets();
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var segments = context.Request.Path.Value!.Trim('/').Split('/');
        if (segments is ["api", "v1", "namespaces", var ns, "pods", var pod, "exec"])
        {
            await ExecAsync(context, Uri.UnescapeDataString(ns), Uri.UnescapeDataString(pod));
            return;
        }

        await ForwardAsync(context);
    }

    private async Task ExecAsync(HttpContext context, string ns, string pod)
    {
        var podObject = _api.Store.Get("v1", "Pod", ns, pod);
        if (podObject is null)
        {
            context.Response.StatusCode = 404;
            return;
        }

        var containers = (podObject["spec"]?["containers"] as JsonArray ?? []).Select(container => container?["name"]?.ToString()).ToList();
        var container = context.Request.Query["container"].ToString();
        if (!context.WebSockets.IsWebSocketRequest || (container.Length > 0 && !containers.Contains(container)))
        {
            context.Response.StatusCode = 400;
            return;
        }

        var offered = context.WebSockets.WebSocketRequestedProtocols;
        var protocol = new[] { "v5.channel.k8s.io", "v4.channel.k8s.io" }.FirstOrDefault(offered.Contains);
        if (protocol is null)
        {
            context.Response.StatusCode = 400;
            return;
        }

        Sessions.Enqueue($"{ns}/{pod}/{container}: {string.Join(' ', context.Request.Query["command"].ToArray())}");
        using var socket = await context.WebSockets.AcceptWebSocketAsync(protocol);
        var line = new StringBuilder();
        var buffer = new byte[8192];
        while (socket.State == WebSocketState.Open)
        {
            WebSocketReceiveResult result;
            try
            {
                result = await socket.ReceiveAsync(buffer, context.RequestAborted);
            }
            catch (Exception exception) when (exception is WebSocketException or OperationCanceledException)
            {
                return;
            }

            if (result.MessageType == WebSocketMessageType.Close)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                return;
            }

            if (result.Count == 0)
            {
                continue;
            }

            var data = Encoding.UTF8.GetString(buffer, 1, result.Count - 1);
            if (buffer[0] == 4)
            {
                var size = JsonNode.Parse(data)!;
                Resizes.Enqueue((size["Width"]!.GetValue<int>(), size["Height"]!.GetValue<int>()));
                continue;
            }

            foreach (var character in data)
            {
                if (character != '\n')
                {
                    line.Append(character);
                    continue;
                }

                var command = line.ToString().Trim();
                line.Clear();
                if (command == "exit" || command == "false")
                {
                    var status = command == "exit"
                        ? new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Success" }
                        : new JsonObject { ["metadata"] = new JsonObject(), ["status"] = "Failure", ["message"] = "command terminated with non-zero exit code: exit status 1", ["reason"] = "NonZeroExitCode" };
                    await SendAsync(socket, 3, status.ToJsonString());
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "exited", CancellationToken.None);
                    return;
                }

                if (command.StartsWith("echo ", StringComparison.Ordinal))
                {
                    await SendAsync(socket, 1, command[5..] + "\r\n");
                }
                else if (command == "hostname")
                {
                    await SendAsync(socket, 1, pod + "\r\n");
                }
                else if (command.Length > 0)
                {
                    await SendAsync(socket, 1, $"/bin/sh: {command.Split(' ')[0]}: not found\r\n");
                }
            }
        }
    }

    private static Task SendAsync(WebSocket socket, byte channel, string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        var frame = new byte[bytes.Length + 1];
        frame[0] = channel;
        bytes.CopyTo(frame, 1);
        return socket.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);
    }

    private async Task ForwardAsync(HttpContext context)
    {
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), _api.BaseUrl + context.Request.Path + context.Request.QueryString);
        if (context.Request.ContentLength > 0 || context.Request.Headers.TransferEncoding.Count > 0)
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body, context.RequestAborted);
            request.Content = new ByteArrayContent(body.ToArray());
            if (context.Request.ContentType is { } contentType)
            {
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }
        }

        foreach (var header in new[] { "Authorization", "Accept", "User-Agent" })
        {
            if (context.Request.Headers.TryGetValue(header, out var value))
            {
                request.Headers.TryAddWithoutValidation(header, value.ToArray());
            }
        }

        using var response = await Proxy.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        if (response.Content.Headers.ContentType is { } type)
        {
            context.Response.ContentType = type.ToString();
        }

        await using var stream = await response.Content.ReadAsStreamAsync(context.RequestAborted);
        var chunk = new byte[8192];
        int read;
        while ((read = await stream.ReadAsync(chunk, context.RequestAborted)) > 0)
        {
            await context.Response.Body.WriteAsync(chunk.AsMemory(0, read), context.RequestAborted);
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }
}
