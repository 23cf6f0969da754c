using System.Text.Json;
using Capstan.Features.Fleet.Logs;
using Capstan.Features.Tests.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Fleet.Logs;

/// <summary>Ingesting log lines (one, or a batch written all or nothing) and the live tails: which instances a stream
/// may follow, and which lines it passes on for its level and source filters.</summary>
public sealed class LogIngestHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private static LogEntry Entry(Guid instance, string message, string level = "info", string source = "app", DateTimeOffset? at = null) =>
        new() { InstanceId = instance, Level = level, Source = source, Message = message, Timestamp = at };

    private Task<long> StoredAsync() => Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.logs");

    [Fact]
    public async Task One_line_is_stored_with_its_spellings_normalised_and_is_not_audited()
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var deployment = Guid.CreateVersion7();
        var at = DateTimeOffset.UtcNow.AddMinutes(-3);

        var log = await Fixture.SendAsAsync(viewer, new IngestLog.Command(new LogEntry
        {
            InstanceId = box,
            Level = "Warning",
            Source = "app:web",
            Message = "disk almost full",
            Metadata = JsonDocument.Parse("""{"free":"2%"}""").RootElement,
            DeploymentId = deployment,
            Timestamp = at,
        }));
        var now = await Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(box, "no time given", "fatal", "SYSTEM")));

        (log.InstanceId, log.Level, log.Source, log.Message, log.DeploymentId, log.Timestamp).ShouldBe((box, "WARN", "APP", "disk almost full", (Guid?)deployment, at.UtcDateTime));
        var row = (await Fixture.QueryAsync<(string Level, string Source, string Free, Guid Deployment, DateTime At)>(
            "SELECT level, source, metadata->>'free', deployment_id, logged_at FROM fleet.logs WHERE id = @Id", new { Id = log.Id })).ShouldHaveSingleItem();
        (row.Level, row.Source, row.Free, row.Deployment).ShouldBe(("WARN", "APP", "2%", deployment));
        row.At.ShouldBe(at.UtcDateTime, TimeSpan.FromMilliseconds(1));
        (now.Level, now.Source).ShouldBe(("ERROR", "SYSTEM"));
        now.Timestamp.ShouldBe(DateTime.UtcNow, TimeSpan.FromMinutes(1));
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM identity.audit_log")).ShouldBe(0);
    }

    [Fact]
    public async Task A_line_for_an_unknown_hidden_or_destroyed_instance_is_refused()
    {
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var gone = await InstanceAsync("gone", "DESTROYED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(hidden, "x"))));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(Guid.CreateVersion7(), "x"))));
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(gone, "x"))));
        (await StoredAsync()).ShouldBe(0);
    }

    public static TheoryData<string> BadEntries => ["instance", "level", "source", "empty message", "long message", "metadata", "too old", "too far ahead"];

    [Theory]
    [MemberData(nameof(BadEntries))]
    public async Task A_bad_entry_is_rejected_alone_or_in_a_batch_and_nothing_is_stored(string rule)
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var good = Entry(box, "fine");
        var bad = rule switch
        {
            "instance" => good with { InstanceId = null },
            "level" => good with { Level = "loud" },
            "source" => good with { Source = "kernel" },
            "empty message" => good with { Message = "" },
            "long message" => good with { Message = new string('m', 10_001) },
            "metadata" => good with { Metadata = JsonDocument.Parse("[1]").RootElement },
            // The fleet fixture keeps logs 3 days.
            "too old" => good with { Timestamp = DateTimeOffset.UtcNow.AddDays(-4) },
            _ => good with { Timestamp = DateTimeOffset.UtcNow.AddHours(2) },
        };

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new IngestLog.Command(bad)));
        var batch = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new IngestLogBatch.Command([good, bad])));
        batch.Errors.ShouldAllBe(failure => failure.PropertyName.StartsWith("entries[1].", StringComparison.Ordinal));
        (await StoredAsync()).ShouldBe(0);
    }

    [Fact]
    public async Task A_batch_is_stored_in_order_with_an_id_per_line()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var at = DateTimeOffset.UtcNow.AddMinutes(-1);

        var response = await Fixture.SendAsAsync(viewer, new IngestLogBatch.Command(
            [Entry(box, "first", "debug", "agent", at), Entry(other, "second", "err", "extension:x", at.AddSeconds(1)), Entry(box, "third")]));

        response.Count.ShouldBe(3);
        response.Ids.Count.ShouldBe(3);
        var rows = await Fixture.QueryAsync<(Guid Id, Guid Instance, string Level, string Source, string Message)>(
            "SELECT id, instance_id, level, source, message FROM fleet.logs ORDER BY logged_at");
        rows.ShouldBe(
        [
            (response.Ids[0], box, "DEBUG", "AGENT", "first"),
            (response.Ids[1], other, "ERROR", "EXTENSION", "second"),
            (response.Ids[2], box, "INFO", "APP", "third"),
        ]);
    }

    [Fact]
    public async Task A_batch_is_all_or_nothing_and_refuses_empty_oversized_unknown_and_destroyed()
    {
        var box = await InstanceAsync("box");
        var gone = await InstanceAsync("gone", "DESTROYED");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new IngestLogBatch.Command([])));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new IngestLogBatch.Command(null)));
        await Should.ThrowAsync<PayloadTooLargeException>(() =>
            Fixture.SendAsAsync(viewer, new IngestLogBatch.Command([.. Enumerable.Range(0, IngestLogBatch.MaxEntries + 1).Select(index => Entry(box, $"line {index}"))])));
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new IngestLogBatch.Command([Entry(box, "ok"), Entry(Guid.CreateVersion7(), "x")]))))
            .Message.ShouldStartWith("Unknown instance(s): ");
        await Should.ThrowAsync<ConflictException>(() => Fixture.SendAsAsync(viewer, new IngestLogBatch.Command([Entry(box, "ok"), Entry(gone, "x")])));
        (await StoredAsync()).ShouldBe(0);
        (await Fixture.SendAsAsync(viewer, new IngestLogBatch.Command([.. Enumerable.Range(0, IngestLogBatch.MaxEntries).Select(index => Entry(box, $"line {index}"))]))).Count
            .ShouldBe(IngestLogBatch.MaxEntries);
    }

    [Fact]
    public async Task A_fleet_stream_resolves_its_visible_instances_and_refuses_unknown_or_hidden_ones()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var unknown = Guid.CreateVersion7();

        (await Fixture.SendAsAsync(viewer, new StreamLogs.Query($" {box}, {other},{box}", "error", "app"))).ShouldBe([box, other]);
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new StreamLogs.Query($"{box},{hidden},{unknown}", null, null))))
            .Message.ShouldBe($"Unknown instance(s): {hidden}, {unknown}");
    }

    [Theory]
    [InlineData(null, null, null)]
    [InlineData("", null, null)]
    [InlineData("not-a-guid", null, null)]
    [InlineData("many", null, null)]
    [InlineData("one", "loud", null)]
    [InlineData("one", null, "kernel")]
    public async Task A_fleet_stream_needs_one_to_a_hundred_ids_and_known_filters(string? ids, string? level, string? source)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var instanceIds = ids switch
        {
            "many" => string.Join(',', Enumerable.Range(0, 101).Select(_ => Guid.CreateVersion7())),
            "one" => Guid.CreateVersion7().ToString(),
            _ => ids,
        };

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new StreamLogs.Query(instanceIds, level, source)));
    }

    [Fact]
    public async Task An_instance_stream_resolves_a_visible_instance_and_refuses_others()
    {
        var box = await InstanceAsync("box");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Fixture.SendAsAsync(viewer, new StreamInstanceLogs.Query(box, "warn,error", "APP"))).ShouldBe(box);
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new StreamInstanceLogs.Query(hidden, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new StreamInstanceLogs.Query(Guid.CreateVersion7(), null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new StreamInstanceLogs.Query(Guid.Empty, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new StreamInstanceLogs.Query(box, "loud", null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new StreamInstanceLogs.Query(box, null, "kernel")));
    }

    [Fact]
    public async Task A_tail_passes_on_only_the_lines_of_its_instances_levels_and_sources()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var id = await Fixture.SendAsAsync(viewer, new StreamInstanceLogs.Query(box, "warn,error", "app"));

        var text = await TailAsync(new HashSet<Guid> { id }, ["WARN", "ERROR"], ["APP"], async () =>
        {
            await Fixture.SendAsAsync(viewer, new IngestLogBatch.Command(
                [Entry(other, "other-instance", "error"), Entry(box, "wrong-level", "info"), Entry(box, "wrong-source", "error", "build"), Entry(box, "batch-match", "warn")]));
            await Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(box, "single-match", "error", "app:web")));
        });

        text.ShouldStartWith("data: {\"type\":\"connected\"");
        text.ShouldContain("\"message\":\"batch-match\"");
        text.ShouldNotContain("other-instance");
        text.ShouldNotContain("wrong-level");
        text.ShouldNotContain("wrong-source");
        text.IndexOf("batch-match", StringComparison.Ordinal).ShouldBeLessThan(text.IndexOf("single-match", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_fleet_tail_follows_every_named_instance_without_filters()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var third = await InstanceAsync("third");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var ids = await Fixture.SendAsAsync(viewer, new StreamLogs.Query($"{box},{other}", null, null));

        var text = await TailAsync(ids.ToHashSet(), [], [], async () =>
        {
            await Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(third, "third-line", "error")));
            await Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(box, "box-line", "debug", "build")));
            await Fixture.SendAsAsync(viewer, new IngestLog.Command(Entry(other, "single-match", "info", "system")));
        });

        text.ShouldContain("box-line");
        text.ShouldNotContain("third-line");
    }

    /// <summary>Runs a tail until <c>single-match</c> arrives after <paramref name="ingest"/>, then ends it as a client
    /// going away would, and returns what it wrote.</summary>
    private async Task<string> TailAsync(IReadOnlySet<Guid> ids, string[] levels, string[] sources, Func<Task> ingest)
    {
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var body = new CapturedBody();
        var context = new DefaultHttpContext { RequestAborted = stop.Token };
        context.Response.Body = body;
        var tail = LogTail.RunAsync(
            context, Fixture.Services.GetRequiredService<EventHub>(), Fixture.Services.GetRequiredService<IConfiguration>(), ids, levels, sources, new { type = "connected" });

        await body.WaitForAsync("connected", stop.Token);
        await ingest();
        await body.WaitForAsync("single-match", stop.Token);
        await stop.CancelAsync();
        await tail;
        context.Response.ContentType.ShouldBe("text/event-stream");
        return body.Text;
    }
}
