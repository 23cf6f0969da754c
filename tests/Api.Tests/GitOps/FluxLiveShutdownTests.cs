using System.Net;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Api.Tests.GitOps;

/// <summary>How the live feed ends: SHUTDOWN on the SSE stream and the WebSocket when a connection reaches
/// <c>GitOps:Live:ConnectionTimeoutSeconds</c>, on a host of its own (the timeout is off on the shared one). The
/// server-stop SHUTDOWN cannot be observed in process: the test server aborts open requests when it stops, where
/// Kestrel lets them finish.</summary>
public sealed class FluxLiveShutdownTests(GitOpsFixture fixture, FakeKubernetesFixture fake) : GitOpsTest(fixture, fake)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task A_connection_reaching_its_timeout_ends_with_a_connection_timeout_shutdown()
    {
        var cluster = await RegisterClusterAsync();
        var (_, user) = await FluxClientAsync(BaseRole.Viewer, ViewerRead);
        await using var host = await StartHostAsync(new Dictionary<string, string?> { ["GitOps:Live:ConnectionTimeoutSeconds"] = "2" });
        using var client = await host.ClientAsAsync(user);

        using var stream = await OpenStreamAsync(client);
        using var socket = await ConnectAsync(host, user);
        var streamConnected = await stream.NextAsync();
        var socketConnected = await ReceiveAsync(socket);
        var streamShutdown = await stream.NextAsync(IsShutdown);
        var socketShutdown = await ReceiveUntilAsync(socket, "SHUTDOWN");

        streamConnected.GetProperty("type").GetString().ShouldBe("CONNECTED");
        streamConnected.GetProperty("clusterId").GetGuid().ShouldBe(cluster);
        socketConnected!.Value.GetProperty("type").GetString().ShouldBe("CONNECTED");
        foreach (var shutdown in new[] { streamShutdown, socketShutdown })
        {
            shutdown.PropertyNames().ShouldBe(["type", "message", "reason", "timestamp"]);
            shutdown.GetProperty("reason").GetString().ShouldBe("connection_timeout");
            shutdown.GetProperty("message").GetString().ShouldBe("Connection timeout – please reconnect");
            shutdown.GetProperty("timestamp").GetString().ShouldNotBeNullOrEmpty();
        }

        (await stream.EndAsync()).ShouldBeTrue("the stream ends after SHUTDOWN");
        (await ReceiveAsync(socket)).ShouldBeNull("the server closes the socket after SHUTDOWN");
        socket.CloseStatus.ShouldBe(WebSocketCloseStatus.NormalClosure);
    }

    private static bool IsShutdown(JsonElement frame) => frame.TryGetProperty("type", out var type) && type.GetString() == "SHUTDOWN";

    private async Task<ApiFactory> StartHostAsync(Dictionary<string, string?> settings)
    {
        var host = new ApiFactory(Fixture.ConnectionString, settings);
        await host.WaitUntilReadyAsync();
        return host;
    }

    private static async Task<WebSocket> ConnectAsync(ApiFactory host, TestUser user)
    {
        var key = await host.CreateApiKeyAsync(user);
        var client = host.Server.CreateWebSocketClient();
        client.ConfigureRequest = request => request.Headers.Authorization = $"Bearer {key}";
        return await client.ConnectAsync(new Uri("ws://localhost/api/v1/ws?cluster=prod"), CancellationToken.None);
    }

    /// <summary>The next text message as JSON, or null when the server closed the socket.</summary>
    private static async Task<JsonElement?> ReceiveAsync(WebSocket socket)
    {
        using var cts = new CancellationTokenSource(Patience);
        var buffer = new byte[64 * 1024];
        var result = await socket.ReceiveAsync(buffer, cts.Token);
        return result.MessageType == WebSocketMessageType.Close ? null : JsonDocument.Parse(Encoding.UTF8.GetString(buffer, 0, result.Count)).RootElement;
    }

    private static async Task<JsonElement> ReceiveUntilAsync(WebSocket socket, string type)
    {
        while (true)
        {
            var message = await ReceiveAsync(socket) ?? throw new InvalidOperationException($"The socket closed before {type}");
            if (message.TryGetProperty("type", out var kind) && kind.GetString() == type)
            {
                return message;
            }
        }
    }

    private static async Task<LiveStream> OpenStreamAsync(HttpClient client)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/events?cluster=prod");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        return new LiveStream(response, new StreamReader(await response.Content.ReadAsStreamAsync()));
    }

    private sealed class LiveStream(HttpResponseMessage response, StreamReader reader) : IDisposable
    {
        public async Task<JsonElement> NextAsync(Func<JsonElement, bool>? match = null)
        {
            using var cts = new CancellationTokenSource(Patience);
            while (true)
            {
                var line = await reader.ReadLineAsync(cts.Token) ?? throw new InvalidOperationException("The stream ended");
                if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    var frame = JsonDocument.Parse(line[6..]).RootElement;
                    if (match is null || match(frame))
                    {
                        return frame;
                    }
                }
            }
        }

        /// <summary>True when the server ends the stream with nothing but blank lines left.</summary>
        public async Task<bool> EndAsync()
        {
            using var cts = new CancellationTokenSource(Patience);
            while (await reader.ReadLineAsync(cts.Token) is { } line)
            {
                if (line.Length > 0)
                {
                    return false;
                }
            }

            return true;
        }

        public void Dispose()
        {
            reader.Dispose();
            response.Dispose();
        }
    }
}
