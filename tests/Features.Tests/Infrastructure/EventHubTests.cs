using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The hub across two service instances on one database, as two replicas would run.</summary>
public sealed class EventHubTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    [Fact]
    public async Task An_event_raised_on_one_replica_reaches_subscribers_of_the_other()
    {
        await using var other = new ApiFactory(Fixture.ConnectionString);
        await other.WaitUntilReadyAsync();
        var here = Fixture.Services.GetRequiredService<EventHub>();
        var there = other.Services.GetRequiredService<EventHub>();
        await Task.WhenAll(here.Listening, there.Listening);

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = ReceiveAsync(there, "fleet.logs", 2, timeout.Token);
        await Task.Delay(50);
        await here.PublishAsync("fleet.logs.instance-1", new { message = "hello" }, timeout.Token);
        await here.PublishAsync("fleet.logsx", new { message = "not a child topic" }, timeout.Token);
        await here.PublishAsync("fleet.logs", new { message = "exact topic" }, timeout.Token);

        var messages = await received;
        messages.Select(message => message.Topic).ShouldBe(["fleet.logs.instance-1", "fleet.logs"]);
        messages[0].Data.GetProperty("message").GetString().ShouldBe("hello");
        messages[0].Origin.ShouldBe(here.ReplicaId);
    }

    [Fact]
    public async Task Every_subscriber_of_a_replica_shares_one_decoding_of_a_message()
    {
        var hub = Fixture.Services.GetRequiredService<EventHub>();
        await hub.Listening;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var first = ReceiveAsync(hub, "test.fanout", 1, timeout.Token);
        var second = ReceiveAsync(hub, "test.fanout", 1, timeout.Token);
        await Task.Delay(50);
        await hub.PublishAsync("test.fanout", new { lines = new[] { "a", "b" } }, timeout.Token);
        var (one, two) = ((await first).Single(), (await second).Single());

        var decodings = 0;
        string[] Decode(System.Text.Json.JsonElement data)
        {
            Interlocked.Increment(ref decodings);
            return [.. data.GetProperty("lines").EnumerateArray().Select(line => line.GetString()!)];
        }

        one.ShouldBeSameAs(two, "one message object is delivered to every subscriber");
        one.Decoded(Decode).ShouldBe(["a", "b"]);
        two.Decoded(Decode).ShouldBeSameAs(one.Decoded(Decode));
        decodings.ShouldBe(1);
        one.DataText.ShouldBeSameAs(two.DataText);
        one.DataText.ShouldBe("""{"lines":["a","b"]}""");
        one.Decoded(data => new List<string> { data.GetRawText() }).Single().ShouldBe(one.DataText, "another type decodes for itself");
    }

    [Fact]
    public async Task An_event_raised_in_a_transaction_arrives_only_after_commit()
    {
        var hub = Fixture.Services.GetRequiredService<EventHub>();
        await hub.Listening;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = ReceiveAsync(hub, "test.tx", 1, timeout.Token);
        await Task.Delay(50);

        await using (var scope = Fixture.Services.CreateAsyncScope())
        {
            var session = scope.ServiceProvider.GetRequiredService<DbSession>();
            await session.BeginAsync(timeout.Token);
            await hub.PublishAsync(session, "test.tx", new { n = 1 }, timeout.Token);
            await session.RollbackAsync();
            await session.BeginAsync(timeout.Token);
            await hub.PublishAsync(session, "test.tx", new { n = 2 }, timeout.Token);
            await session.CommitAsync(timeout.Token);
        }

        (await received).Single().Data.GetProperty("n").GetInt32().ShouldBe(2);
    }

    [Fact]
    public async Task Payloads_larger_than_a_notification_travel_by_reference()
    {
        var hub = Fixture.Services.GetRequiredService<EventHub>();
        await hub.Listening;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = ReceiveAsync(hub, "test.big", 1, timeout.Token);
        await Task.Delay(50);
        var big = new string('x', 20_000);

        await hub.PublishAsync("test.big", new { big }, timeout.Token);

        (await received).Single().Data.GetProperty("big").GetString().ShouldBe(big);
    }

    private static async Task<List<HubMessage>> ReceiveAsync(EventHub hub, string prefix, int count, CancellationToken cancellationToken)
    {
        var messages = new List<HubMessage>();
        await foreach (var message in hub.SubscribeAsync(prefix, cancellationToken))
        {
            messages.Add(message);
            if (messages.Count == count)
            {
                break;
            }
        }

        return messages;
    }
}
