using System.Threading.Channels;
using Capstan.Infrastructure.Events;

namespace Capstan.Infrastructure.Http;

/// <summary>
/// A server-sent-events response fed by several producers at once (a hub subscription, cluster watches, log
/// followers). <see cref="Subscribe"/> registers the hub subscription first, so nothing raised after the client saw
/// its first event is missed; producers write frames to one channel; <see cref="PumpAsync"/> writes them in order, adds
/// heartbeat comments, and ends at the first final event or when the client leaves. Disposing cancels every producer
/// and waits for it before the subscription is released (disposing an async iterator while a <c>MoveNextAsync</c> is
/// pending throws and aborts the response).
/// </summary>
public sealed class MergedEventStream : IAsyncDisposable
{
    private readonly Channel<(string Event, string Data)> _frames = Channel.CreateUnbounded<(string Event, string Data)>();
    private readonly CancellationTokenSource _stop;
    private readonly List<Task> _producers = [];
    private IAsyncEnumerator<HubMessage>? _subscription;
    private ValueTask<bool> _first;
    private bool _forwarding;

    public MergedEventStream(CancellationToken requestAborted) => _stop = CancellationTokenSource.CreateLinkedTokenSource(requestAborted);

    /// <summary>Cancelled when the stream ends, for whatever reason; producers stop on it.</summary>
    public CancellationToken Token => _stop.Token;

    public ChannelWriter<(string Event, string Data)> Frames => _frames.Writer;

    /// <summary>Adds a producer, already started with <see cref="Frames"/> and <see cref="Token"/>.</summary>
    public void Add(Task producer) => _producers.Add(producer);

    /// <summary>Subscribes to <paramref name="topic"/> now; messages queue until <see cref="Forward"/>.</summary>
    public void Subscribe(EventHub hub, string topic)
    {
        _subscription = hub.SubscribeAsync(topic, Token).GetAsyncEnumerator(Token);
        // The first MoveNextAsync registers the subscription at once.
        _first = _subscription.MoveNextAsync();
    }

    /// <summary>Forwards the subscription: each message <paramref name="map"/> turns into a frame (null skips it). When
    /// the hub ends the subscription (the service is stopping), <paramref name="whenHubEnds"/> is sent if given.</summary>
    public void Forward(Func<HubMessage, (string Event, string Data)?> map, (string Event, string Data)? whenHubEnds = null)
    {
        var subscription = _subscription ?? throw new InvalidOperationException("Subscribe before forwarding");
        _forwarding = true;
        _producers.Add(ForwardAsync(subscription, _first, map, whenHubEnds));
    }

    /// <summary>Writes frames until one whose event <paramref name="isFinal"/> says ends the stream, or the client leaves,
    /// with a <c>: heartbeat</c> comment every <paramref name="heartbeat"/>; then stops the producers.</summary>
    public async Task PumpAsync(ServerSentEvents sse, TimeSpan heartbeat, Func<string, bool> isFinal)
    {
        _producers.Add(HeartbeatAsync(heartbeat));
        try
        {
            await foreach (var (name, data) in _frames.Reader.ReadAllAsync(Token))
            {
                if (name == HeartbeatFrame)
                {
                    await sse.WriteCommentAsync("heartbeat", Token);
                    continue;
                }

                await sse.WriteEventAsync(name, data, cancellationToken: Token);
                if (isFinal(name))
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            await StopAsync();
        }
    }

    /// <summary>Cancels the producers and waits until each has finished.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_producers);
        }
        catch (OperationCanceledException)
        {
            // Expected on the way out.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        if (_subscription is not null)
        {
            if (!_forwarding)
            {
                try
                {
                    await _first;
                }
                catch (OperationCanceledException)
                {
                    // The pending read ends with the cancellation; only then may the subscription be disposed.
                }
            }

            await _subscription.DisposeAsync();
        }

        _stop.Dispose();
    }

    private const string HeartbeatFrame = ": heartbeat";

    private async Task ForwardAsync(
        IAsyncEnumerator<HubMessage> subscription, ValueTask<bool> first, Func<HubMessage, (string Event, string Data)?> map, (string Event, string Data)? whenHubEnds)
    {
        try
        {
            var next = first;
            while (await next)
            {
                if (map(subscription.Current) is { } frame)
                {
                    await Frames.WriteAsync(frame, Token);
                }

                next = subscription.MoveNextAsync();
            }

            if (whenHubEnds is { } last)
            {
                Frames.TryWrite(last);
            }
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
            // The stream ended.
        }
    }

    private async Task HeartbeatAsync(TimeSpan interval)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(Token))
            {
                await Frames.WriteAsync((HeartbeatFrame, string.Empty), Token);
            }
        }
        catch (OperationCanceledException) when (Token.IsCancellationRequested)
        {
            // The stream ended.
        }
    }
}
