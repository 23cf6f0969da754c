using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet;

/// <summary>
/// An instance's agent for tests: holds the <c>/ws/agent</c> socket of an in-process service, sends protocol 1.0
/// messages (Draupnir's envelope), collects what the service sends, and answers <c>command:dispatch</c> with
/// <see cref="CommandHandler"/> (by default: exit 0, the command echoed on stdout).
/// </summary>
public sealed class SimulatedAgent : IAsyncDisposable
{
    private readonly WebSocket _socket;
    private readonly Channel<JsonElement> _received = Channel.CreateUnbounded<JsonElement>();
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sending = new(1, 1);
    private readonly Task _loop;

    private SimulatedAgent(WebSocket socket)
    {
        _socket = socket;
        _loop = ReceiveAsync();
    }

    /// <summary>Answers a dispatched command; null sends nothing (the command will time out).</summary>
    public Func<JsonElement, object?> CommandHandler { get; set; } = dispatch => new
    {
        command_id = dispatch.GetProperty("command_id").GetString(),
        exit_code = 0,
        stdout = $"ran {dispatch.GetProperty("command").GetString()}",
        stderr = string.Empty,
        duration_ms = 12,
    };

    public List<JsonElement> Dispatched { get; } = [];

    public WebSocketCloseStatus? CloseStatus => _socket.CloseStatus;

    public string? CloseDescription => _socket.CloseStatusDescription;

    public WebSocketState State => _socket.State;

    /// <summary>Connects with an API key (or a ticket in the query) as <paramref name="instance"/> (id or name).</summary>
    public static async Task<SimulatedAgent> ConnectAsync(ApiFactory factory, string instance, string? apiKey = null, string? ticket = null)
    {
        var client = factory.Server.CreateWebSocketClient();
        client.ConfigureRequest = request =>
        {
            if (apiKey is not null)
            {
                request.Headers.Authorization = $"Bearer {apiKey}";
            }

            request.Headers["X-Instance-ID"] = instance;
        };
        var uri = new Uri(ticket is null ? "ws://localhost/ws/agent" : $"ws://localhost/ws/agent?ticket={Uri.EscapeDataString(ticket)}");
        var socket = await client.ConnectAsync(uri, CancellationToken.None);
        var agent = new SimulatedAgent(socket);
        await agent.NextAsync("log:subscribe");
        return agent;
    }

    public Task SendAsync(string type, object payload, string? correlationId = null) =>
        SendRawAsync(JsonSerializer.Serialize(new Dictionary<string, object?> { ["protocol_version"] = "1.0", ["type"] = type, ["correlation_id"] = correlationId, ["payload"] = payload }));

    public async Task SendRawAsync(string text)
    {
        await _sending.WaitAsync();
        try
        {
            await _socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, CancellationToken.None);
        }
        finally
        {
            _sending.Release();
        }
    }

    /// <summary>Sends a heartbeat and waits for its pong.</summary>
    public async Task<JsonElement> HeartbeatAsync(object payload)
    {
        await SendAsync("heartbeat", payload);
        return await NextAsync("heartbeat:pong");
    }

    /// <summary>The next message of <paramref name="type"/> the service sent (others are skipped).</summary>
    public async Task<JsonElement> NextAsync(string type, TimeSpan? timeout = null)
    {
        using var deadline = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var message = await _received.Reader.ReadAsync(deadline.Token);
            if (message.GetProperty("type").GetString() == type)
            {
                return message;
            }
        }
    }

    /// <summary>Waits for the service to close the socket.</summary>
    public async Task WaitForCloseAsync(TimeSpan? timeout = null) => await _loop.WaitAsync(timeout ?? TimeSpan.FromSeconds(10));

    public async ValueTask DisposeAsync()
    {
        if (_socket.State == WebSocketState.Open)
        {
            try
            {
                // Close our side; the receive loop sees the service's answer and ends.
                await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "test done", CancellationToken.None);
            }
            catch (Exception exception) when (exception is WebSocketException or ObjectDisposedException or InvalidOperationException)
            {
            }
        }

        try
        {
            await _loop.WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (TimeoutException)
        {
            await _stop.CancelAsync();
        }

        _socket.Dispose();
        _stop.Dispose();
        _sending.Dispose();
    }

    private async Task ReceiveAsync()
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        try
        {
            while (_socket.State == WebSocketState.Open)
            {
                message.SetLength(0);
                WebSocketReceiveResult result;
                do
                {
                    result = await _socket.ReceiveAsync(buffer, _stop.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        if (_socket.State == WebSocketState.CloseReceived)
                        {
                            await _socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                        }

                        return;
                    }

                    message.Write(buffer, 0, result.Count);
                }
                while (!result.EndOfMessage);

                var element = JsonDocument.Parse(message.ToArray()).RootElement.Clone();
                if (element.GetProperty("type").GetString() == "command:dispatch")
                {
                    var payload = element.GetProperty("payload");
                    lock (Dispatched)
                    {
                        Dispatched.Add(payload);
                    }

                    if (CommandHandler(payload) is { } answer)
                    {
                        await SendAsync("command:result", answer);
                    }
                }

                await _received.Writer.WriteAsync(element);
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException or WebSocketException or ObjectDisposedException)
        {
        }
        finally
        {
            _received.Writer.TryComplete();
        }
    }
}
