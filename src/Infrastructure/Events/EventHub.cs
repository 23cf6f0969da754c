using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Health;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Infrastructure.Events;

/// <summary>A message on the hub: a dotted topic (<c>fleet.logs.&lt;instance&gt;</c>), its JSON data, when it was raised
/// and by which replica.</summary>
public sealed record HubMessage(string Topic, JsonElement Data, DateTimeOffset RaisedAt, string Origin)
{
    private string? _dataText;
    private object? _decoded;

    /// <summary><see cref="Data"/> as JSON text, made once however many subscribers of this replica write it.</summary>
    public string DataText => _dataText ??= Data.GetRawText();

    /// <summary>What <paramref name="decode"/> makes of <see cref="Data"/>, made once per message and shared by every
    /// subscriber asking for the same type (a fan-out to a thousand streams decodes once). Racing callers may both
    /// decode; either result is kept, and both are equal.</summary>
    public T Decoded<T>(Func<JsonElement, T> decode)
        where T : class
    {
        if (Volatile.Read(ref _decoded) is T decoded)
        {
            return decoded;
        }

        var made = decode(Data);
        Volatile.Write(ref _decoded, made);
        return made;
    }
}

/// <summary>
/// The live-update hub (DESIGN §2): an event raised on any replica reaches subscribers on every replica, through
/// PostgreSQL <c>LISTEN/NOTIFY</c>. Raised inside a transaction it is delivered only if that transaction commits.
/// Payloads too big for a notification travel through <c>platform.hub_messages</c> by reference. Each subscriber has
/// a bounded queue; a subscriber that falls behind loses its oldest messages rather than slowing the others.
/// </summary>
public sealed class EventHub(IServiceProvider services, ILogger<EventHub> logger) : BackgroundService
{
    public const string Channel = "capstan_events";
    private const int InlineLimit = 7000;

    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly ConcurrentDictionary<Guid, Subscription> _subscriptions = new();
    private readonly TaskCompletionSource _listening = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Identifies this process in messages it raises.</summary>
    public string ReplicaId { get; } = $"{Environment.MachineName}-{Environment.ProcessId}-{Guid.NewGuid().ToString("N")[..6]}";

    /// <summary>Completes once this replica listens (tests wait for it before raising).</summary>
    public Task Listening => _listening.Task;

    public int SubscriberCount => _subscriptions.Count;

    /// <summary>Raises an event now, outside any transaction.</summary>
    public async Task PublishAsync(string topic, object data, CancellationToken cancellationToken)
    {
        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        await NotifyAsync(connection, null, topic, data, cancellationToken);
    }

    /// <summary>Raises an event delivered when <paramref name="session"/>'s transaction commits (at once without one).</summary>
    public async Task PublishAsync(DbSession session, string topic, object data, CancellationToken cancellationToken)
    {
        var connection = await session.OpenAsync(cancellationToken);
        await NotifyAsync(connection, session.Transaction, topic, data, cancellationToken);
    }

    /// <summary>Messages whose topic equals <paramref name="topicPrefix"/> or starts with it followed by a dot, from now
    /// until <paramref name="cancellationToken"/> ends the subscription.</summary>
    public async IAsyncEnumerable<HubMessage> SubscribeAsync(
        string topicPrefix,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken,
        int capacity = 1000)
    {
        var id = Guid.NewGuid();
        var queue = System.Threading.Channels.Channel.CreateBounded<HubMessage>(new BoundedChannelOptions(capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
        });
        _subscriptions[id] = new Subscription(topicPrefix, queue.Writer);
        try
        {
            await foreach (var message in queue.Reader.ReadAllAsync(cancellationToken))
            {
                yield return message;
            }
        }
        finally
        {
            _subscriptions.TryRemove(id, out _);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Listen once the schema is migrated and the database reached.
        var readiness = services.GetRequiredService<ServiceReadiness>();
        while (!readiness.IsReady && !stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), stoppingToken);
        }

        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, notification) => Dispatch(notification.Payload);
                await using (var listen = new NpgsqlCommand($"LISTEN {Channel}", connection))
                {
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                }

                _listening.TrySetResult();
                delay = TimeSpan.FromSeconds(1);
                while (!stoppingToken.IsCancellationRequested)
                {
                    await connection.WaitAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                logger.LogWarning("Event hub lost its database connection ({Reason}); reconnecting in {Delay} s", exception.Message, delay.TotalSeconds);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 15));
            }
        }
    }

    public override Task StopAsync(CancellationToken cancellationToken)
    {
        foreach (var subscription in _subscriptions.Values)
        {
            subscription.Writer.TryComplete();
        }

        return base.StopAsync(cancellationToken);
    }

    private async Task NotifyAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string topic, object data, CancellationToken cancellationToken)
    {
        var envelope = JsonSerializer.Serialize(new Envelope(topic, JsonSerializer.SerializeToElement(data, Json), DateTimeOffset.UtcNow, ReplicaId, null), Json);
        if (envelope.Length > InlineLimit)
        {
            var id = await connection.ExecuteScalarAsync<long>(new CommandDefinition(
                "INSERT INTO platform.hub_messages (payload) VALUES (CAST(@Payload AS jsonb)) RETURNING id",
                new { Payload = envelope },
                transaction,
                cancellationToken: cancellationToken));
            envelope = JsonSerializer.Serialize(new Envelope(topic, null, DateTimeOffset.UtcNow, ReplicaId, id), Json);
        }

        await connection.ExecuteAsync(new CommandDefinition(
            "SELECT pg_notify(@Channel, @Payload)", new { Channel, Payload = envelope }, transaction, cancellationToken: cancellationToken));
    }

    private void Dispatch(string payload)
    {
        try
        {
            var envelope = JsonSerializer.Deserialize<Envelope>(payload, Json)!;
            if (envelope.Ref is { } reference)
            {
                // Fetched off the listener thread: the listening connection is busy waiting.
                _ = Task.Run(() => DispatchByReferenceAsync(reference));
                return;
            }

            Deliver(new HubMessage(envelope.Topic, envelope.Data ?? default, envelope.RaisedAt, envelope.Origin));
        }
        catch (JsonException)
        {
            logger.LogWarning("Ignored a malformed hub notification");
        }
    }

    private async Task DispatchByReferenceAsync(long reference)
    {
        try
        {
            await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync();
            var payload = await connection.ExecuteScalarAsync<string>("SELECT payload::text FROM platform.hub_messages WHERE id = @Id", new { Id = reference });
            if (payload is not null && JsonSerializer.Deserialize<Envelope>(payload, Json) is { } envelope)
            {
                Deliver(new HubMessage(envelope.Topic, envelope.Data ?? default, envelope.RaisedAt, envelope.Origin));
            }
        }
        catch (Exception exception) when (exception is NpgsqlException or JsonException)
        {
            logger.LogWarning("Could not fetch hub message {Reference}: {Reason}", reference, exception.Message);
        }
    }

    private void Deliver(HubMessage message)
    {
        foreach (var subscription in _subscriptions.Values)
        {
            if (message.Topic == subscription.Prefix
                || (message.Topic.StartsWith(subscription.Prefix, StringComparison.Ordinal) && message.Topic.Length > subscription.Prefix.Length
                    && message.Topic[subscription.Prefix.Length] == '.')
                || subscription.Prefix.Length == 0)
            {
                subscription.Writer.TryWrite(message);
            }
        }
    }

    private sealed record Subscription(string Prefix, ChannelWriter<HubMessage> Writer);

    private sealed record Envelope(string Topic, JsonElement? Data, DateTimeOffset RaisedAt, string Origin, long? Ref);
}
