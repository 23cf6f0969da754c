using Capstan.Features.Fleet.Logs;
using Capstan.Features.Tests.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Logs;

/// <summary>Reading logs: the fleet and instance queries (filters, full-text and substring search, newest first, page
/// and cursor paging, visibility), one line, and the fleet and instance statistics.</summary>
public sealed class LogQueryHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private static ListLogs.Query Fleet(
        Guid? instance = null, string? level = null, string? source = null, Guid? deployment = null, string? search = null, DateTimeOffset? from = null, DateTimeOffset? to = null,
        int offset = 0, int size = 50, string? cursor = null) =>
        new(instance, level, source, deployment, search, from, to, new PageRequest(offset, size), cursor);

    private async Task<string[]> MessagesAsync(TestUser user, ListLogs.Query query) => [.. (await Fixture.SendAsAsync(user, query)).Logs.Select(log => log.Message)];

    [Fact]
    public async Task The_fleet_query_filters_by_instance_level_source_deployment_and_time_newest_first()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var deployment = Guid.CreateVersion7();
        var now = DateTime.UtcNow;
        await Fixture.LogAsync(box, "INFO", "APP", "box info", now.AddMinutes(-50));
        await Fixture.LogAsync(box, "ERROR", "BUILD", "box build error", now.AddMinutes(-40), deployment);
        await Fixture.LogAsync(other, "WARN", "AGENT", "other warning", now.AddMinutes(-30));
        await Fixture.LogAsync(other, "DEBUG", "SYSTEM", "other debug", now.AddMinutes(-20));
        await Fixture.LogAsync(hidden, "ERROR", "APP", "hidden error", now.AddMinutes(-10));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await MessagesAsync(viewer, Fleet())).ShouldBe(["other debug", "other warning", "box build error", "box info"]);
        (await MessagesAsync(admin, Fleet())).First().ShouldBe("hidden error");
        (await MessagesAsync(viewer, Fleet(instance: box))).ShouldBe(["box build error", "box info"]);
        (await MessagesAsync(viewer, Fleet(level: "error, warn"))).ShouldBe(["other warning", "box build error"]);
        (await MessagesAsync(viewer, Fleet(source: "app,system"))).ShouldBe(["other debug", "box info"]);
        (await MessagesAsync(viewer, Fleet(deployment: deployment))).ShouldBe(["box build error"]);
        (await MessagesAsync(viewer, Fleet(from: now.AddMinutes(-45), to: now.AddMinutes(-30)))).ShouldBe(["other warning", "box build error"]);
    }

    [Fact]
    public async Task Search_matches_words_by_full_text_and_fragments_as_substrings()
    {
        var box = await InstanceAsync("box");
        var now = DateTime.UtcNow;
        await Fixture.LogAsync(box, "INFO", "APP", "Connections refused by upstream", now.AddMinutes(-3));
        await Fixture.LogAsync(box, "INFO", "APP", "user_id=42 logged in", now.AddMinutes(-2));
        await Fixture.LogAsync(box, "INFO", "APP", "userXid=43 logged in", now.AddMinutes(-1));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        // "connection" stems to the same word as "Connections"; "pstrea" is only a fragment; "_" is literal.
        (await MessagesAsync(viewer, Fleet(search: "connection"))).ShouldBe(["Connections refused by upstream"]);
        (await MessagesAsync(viewer, Fleet(search: "pstrea"))).ShouldBe(["Connections refused by upstream"]);
        (await MessagesAsync(viewer, Fleet(search: "user_id"))).ShouldBe(["user_id=42 logged in"]);
        (await MessagesAsync(viewer, Fleet(search: "   "))).Length.ShouldBe(3);
    }

    [Fact]
    public async Task The_fleet_query_pages_by_number_and_by_cursor()
    {
        var box = await InstanceAsync("box");
        var now = DateTime.UtcNow;
        for (var index = 1; index <= 5; index++)
        {
            await Fixture.LogAsync(box, "INFO", "APP", $"line {index}", now.AddMinutes(index - 10));
        }

        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var second = await Fixture.SendAsAsync(viewer, Fleet(offset: 2, size: 2));
        var first = await Fixture.SendAsAsync(viewer, Fleet(size: 2));
        var next = await Fixture.SendAsAsync(viewer, Fleet(size: 2, cursor: first.NextCursor));
        var last = await Fixture.SendAsAsync(viewer, Fleet(size: 2, cursor: next.NextCursor));

        second.Logs.Select(log => log.Message).ShouldBe(["line 3", "line 2"]);
        second.Data.ShouldBe(second.Logs);
        (second.Pagination.Total, second.Pagination.Page, second.Pagination.TotalPages, second.Pagination.HasMore, second.TotalExact).ShouldBe((5L, 2, 3, true, true));
        first.Logs.Select(log => log.Message).ShouldBe(["line 5", "line 4"]);
        next.Logs.Select(log => log.Message).ShouldBe(["line 3", "line 2"]);
        last.Logs.Select(log => log.Message).ShouldBe(["line 1"]);
        (last.NextCursor, last.Pagination.HasMore).ShouldBe((null, false));
    }

    [Theory]
    [InlineData("LOUD", null, 0, false)]
    [InlineData(null, "KERNEL", 0, false)]
    [InlineData(null, null, 513, false)]
    [InlineData(null, null, 0, true)]
    public async Task The_queries_reject_unknown_levels_or_sources_a_long_search_and_a_reversed_window(string? level, string? source, int searchLength, bool reversed)
    {
        var box = await InstanceAsync("box");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var now = DateTimeOffset.UtcNow;
        var search = searchLength > 0 ? new string('s', searchLength) : null;
        DateTimeOffset? from = reversed ? now : null;
        DateTimeOffset? to = reversed ? now.AddMinutes(-1) : null;

        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, Fleet(level: level, source: source, search: search, from: from, to: to)));
        await Should.ThrowAsync<ValidationException>(() =>
            Fixture.SendAsAsync(viewer, new ListInstanceLogs.Query(box, level, source, null, search, from, to, new PageRequest(0, 50), null)));
    }

    [Fact]
    public async Task The_instance_query_reads_one_instance_and_unknown_or_hidden_instances_are_not_found()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var now = DateTime.UtcNow;
        await Fixture.LogAsync(box, "WARN", "APP", "box warn", now.AddMinutes(-3));
        await Fixture.LogAsync(box, "INFO", "APP", "box info", now.AddMinutes(-2));
        await Fixture.LogAsync(other, "WARN", "APP", "other warn", now.AddMinutes(-1));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var logs = await Fixture.SendAsAsync(viewer, new ListInstanceLogs.Query(box, null, null, null, null, null, null, new PageRequest(0, 50), null));
        var warnings = await Fixture.SendAsAsync(viewer, new ListInstanceLogs.Query(box, "warn", null, null, null, null, null, new PageRequest(0, 50), null));

        logs.InstanceId.ShouldBe(box);
        logs.Logs.Select(log => log.Message).ShouldBe(["box info", "box warn"]);
        logs.Data.ShouldBe(logs.Logs);
        logs.Pagination.Total.ShouldBe(2);
        warnings.Logs.ShouldHaveSingleItem().Message.ShouldBe("box warn");
        await Should.ThrowAsync<NotFoundException>(() =>
            Fixture.SendAsAsync(viewer, new ListInstanceLogs.Query(hidden, null, null, null, null, null, null, new PageRequest(0, 50), null)));
        await Should.ThrowAsync<NotFoundException>(() =>
            Fixture.SendAsAsync(viewer, new ListInstanceLogs.Query(Guid.CreateVersion7(), null, null, null, null, null, null, new PageRequest(0, 50), null)));
        await Should.ThrowAsync<ValidationException>(() =>
            Fixture.SendAsAsync(viewer, new ListInstanceLogs.Query(Guid.Empty, null, null, null, null, null, null, new PageRequest(0, 50), null)));
    }

    [Fact]
    public async Task One_line_is_read_with_its_fields_and_a_hidden_or_unknown_one_is_not_found()
    {
        var box = await InstanceAsync("box");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var deployment = Guid.CreateVersion7();
        var at = DateTime.UtcNow.AddMinutes(-5);
        var id = await Fixture.LogAsync(box, "ERROR", "BUILD", "step failed", at, deployment, """{"step":3}""");
        var secret = await Fixture.LogAsync(hidden, "INFO", "APP", "hidden", at);
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var log = await Fixture.SendAsAsync(viewer, new GetLog.Query(id));

        (log.Id, log.InstanceId, log.Level, log.Source, log.Message, log.DeploymentId).ShouldBe((id, box, "ERROR", "BUILD", "step failed", (Guid?)deployment));
        log.Metadata.ShouldNotBeNull().GetProperty("step").GetInt32().ShouldBe(3);
        log.Timestamp.ShouldBe(at, TimeSpan.FromMilliseconds(1));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetLog.Query(secret)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetLog.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetLog.Query(Guid.Empty)));
    }

    [Fact]
    public async Task Fleet_stats_count_visible_logs_by_level_and_source_and_rank_the_busiest_instances()
    {
        var quiet = await InstanceAsync("calm");
        var busy = await InstanceAsync("noisy");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var now = DateTime.UtcNow;
        await Fixture.LogAsync(busy, "ERROR", "APP", "a", now.AddMinutes(-3));
        await Fixture.LogAsync(busy, "ERROR", "AGENT", "b", now.AddMinutes(-2));
        await Fixture.LogAsync(busy, "INFO", "APP", "c", now.AddMinutes(-1));
        await Fixture.LogAsync(quiet, "WARN", "APP", "d", now.AddMinutes(-2));
        await Fixture.LogAsync(quiet, "WARN", "APP", "old", now.AddDays(-1));
        await Fixture.LogAsync(hidden, "DEBUG", "SYSTEM", "e", now.AddMinutes(-2));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var all = await Fixture.SendAsAsync(viewer, new GetLogStats.Query(null, null));
        var recent = await Fixture.SendAsAsync(viewer, new GetLogStats.Query(now.AddHours(-1), now));

        all.Total.ShouldBe(5);
        all.ByLevel.ShouldBe(new Dictionary<string, long> { ["DEBUG"] = 0, ["INFO"] = 1, ["WARN"] = 2, ["ERROR"] = 2 });
        all.BySource.ShouldBe(new Dictionary<string, long> { ["AGENT"] = 1, ["EXTENSION"] = 0, ["BUILD"] = 0, ["APP"] = 4, ["SYSTEM"] = 0 });
        // The busiest first, though its name sorts last.
        all.TopInstances.ShouldBe([new GetLogStats.InstanceCount(busy, "noisy", 3), new GetLogStats.InstanceCount(quiet, "calm", 2)]);
        recent.Total.ShouldBe(4);
        recent.TopInstances.ShouldBe([new GetLogStats.InstanceCount(busy, "noisy", 3), new GetLogStats.InstanceCount(quiet, "calm", 1)]);
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetLogStats.Query(now, now.AddSeconds(-1))));
    }

    [Fact]
    public async Task Instance_stats_count_one_instances_logs_with_the_latest_time()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        var hidden = await InstanceAsync("hidden");
        await Fixture.HideInTeamAsync(hidden);
        var now = DateTime.UtcNow;
        await Fixture.LogAsync(box, "ERROR", "APP", "a", now.AddMinutes(-30));
        await Fixture.LogAsync(box, "INFO", "EXTENSION", "b", now.AddMinutes(-5));
        await Fixture.LogAsync(box, "INFO", "APP", "old", now.AddDays(-1));
        await Fixture.LogAsync(other, "WARN", "APP", "c", now.AddMinutes(-1));
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var stats = await Fixture.SendAsAsync(viewer, new GetInstanceLogStats.Query(box, now.AddHours(-1), null));
        var empty = await Fixture.SendAsAsync(viewer, new GetInstanceLogStats.Query(box, null, now.AddDays(-2)));

        (stats.InstanceId, stats.Total).ShouldBe((box, 2L));
        stats.ByLevel.ShouldBe(new Dictionary<string, long> { ["DEBUG"] = 0, ["INFO"] = 1, ["WARN"] = 0, ["ERROR"] = 1 });
        stats.BySource.ShouldBe(new Dictionary<string, long> { ["AGENT"] = 0, ["EXTENSION"] = 1, ["BUILD"] = 0, ["APP"] = 1, ["SYSTEM"] = 0 });
        stats.LastLogAt.ShouldNotBeNull().ShouldBe(now.AddMinutes(-5), TimeSpan.FromMilliseconds(1));
        (empty.Total, empty.LastLogAt).ShouldBe((0L, null));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceLogStats.Query(hidden, null, null)));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetInstanceLogStats.Query(Guid.CreateVersion7(), null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceLogStats.Query(Guid.Empty, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetInstanceLogStats.Query(box, now, now.AddMinutes(-1))));
    }
}
