using Capstan.Features.Fleet.Drift;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Paging;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Drift;

/// <summary>The drift reads through the pipeline: snapshot and event lists (filters, newest first, pages), one snapshot,
/// an instance's latest snapshot with its open drift, and the summary, each without other teams' instances.</summary>
public sealed class DriftReadHandlerTests(FleetHandlerFixture fixture) : DriftSliceHandlerTest(fixture)
{
    private static readonly DateTime T0 = new(2026, 3, 1, 10, 0, 0, DateTimeKind.Utc);

    private static readonly PageRequest FirstPage = new(0, 20);

    private sealed record Arranged(
        Guid Web, Guid Db, Guid Hidden, Guid WebDrifted, Guid WebClean, Guid DbDrifted, Guid HiddenError, Guid Region, Guid Env, Guid Memory, Guid HiddenEvent, Guid Remediation);

    /// <summary>web: DRIFTED at T0 (region HIGH open, env.X LOW resolved), then CLEAN at T0+1h; db: DRIFTED at T0+2h (memory
    /// CRITICAL open, with a PENDING remediation); another team's instance: ERROR at T0+3h with a MEDIUM event.</summary>
    private async Task<Arranged> ArrangeAsync()
    {
        var web = await DriftInstanceAsync("web");
        var db = await DriftInstanceAsync("db");
        var hidden = await DriftInstanceAsync("hidden", OtherTeam);
        var webDrifted = await SnapshotAsync(web, T0);
        var webClean = await SnapshotAsync(web, T0.AddHours(1), "CLEAN", actual: """{"region":"sea"}""");
        var dbDrifted = await SnapshotAsync(db, T0.AddHours(2));
        var hiddenError = await SnapshotAsync(hidden, T0.AddHours(3), "ERROR", error: "unreadable");
        var region = await EventAsync(webDrifted, web, "region", T0, "HIGH");
        var env = await EventAsync(webDrifted, web, "env.X", T0.AddMinutes(1), "LOW", resolvedAt: T0.AddMinutes(30));
        var memory = await EventAsync(dbDrifted, db, "resources.memory", T0.AddHours(2), "CRITICAL", command: null);
        var hiddenEvent = await EventAsync(hiddenError, hidden, "region", T0.AddHours(3));
        var remediation = await RemediationAsync(memory, db, command: null);
        return new Arranged(web, db, hidden, webDrifted, webClean, dbDrifted, hiddenError, region, env, memory, hiddenEvent, remediation);
    }

    [Fact]
    public async Task Snapshots_list_newest_first_with_their_event_counts()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var list = await Fixture.SendAsAsync(viewer, new ListSnapshots.Query(null, null, null, null, FirstPage));

        (list.Total, list.Page, list.PageSize, list.TotalPages).ShouldBe((3L, 1, 20, 1));
        list.Data.ShouldBe(list.Snapshots);
        list.Snapshots.ShouldBe(
        [
            new(a.DbDrifted, a.Db, "db", T0.AddHours(2), "hash-drifted", "DRIFTED", null, "system:test", 1, 1),
            new(a.WebClean, a.Web, "web", T0.AddHours(1), "hash-clean", "CLEAN", null, "system:test", 0, 0),
            new(a.WebDrifted, a.Web, "web", T0, "hash-drifted", "DRIFTED", null, "system:test", 2, 1),
        ]);
    }

    [Fact]
    public async Task Snapshots_filter_by_instance_status_and_time_and_page()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        async Task<IEnumerable<Guid>> IdsAsync(TestUser user, ListSnapshots.Query query) => (await Fixture.SendAsAsync(user, query)).Snapshots.Select(snapshot => snapshot.Id);

        (await IdsAsync(viewer, new(a.Web, null, null, null, FirstPage))).ShouldBe([a.WebClean, a.WebDrifted]);
        (await IdsAsync(viewer, new(null, "drifted", null, null, FirstPage))).ShouldBe([a.DbDrifted, a.WebDrifted]);
        (await IdsAsync(viewer, new(null, null, T0.AddMinutes(30), null, FirstPage))).ShouldBe([a.DbDrifted, a.WebClean]);
        (await IdsAsync(viewer, new(null, null, null, T0.AddHours(1), FirstPage))).ShouldBe([a.WebClean, a.WebDrifted]);
        (await IdsAsync(viewer, new(a.Hidden, null, null, null, FirstPage))).ShouldBeEmpty();
        (await IdsAsync(admin, new(null, "ERROR", null, null, FirstPage))).ShouldBe([a.HiddenError]);

        var second = await Fixture.SendAsAsync(viewer, new ListSnapshots.Query(null, null, null, null, new PageRequest(2, 2)));
        second.Snapshots.Select(snapshot => snapshot.Id).ShouldBe([a.WebDrifted]);
        (second.Total, second.Page, second.PageSize, second.TotalPages, second.Pagination.HasMore).ShouldBe((3L, 2, 2, 2, false));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ListSnapshots.Query(null, "weird", null, null, FirstPage)));
    }

    [Fact]
    public async Task A_snapshot_shows_both_configurations_and_its_events_in_detection_order()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var snapshot = await Fixture.SendAsAsync(viewer, new GetSnapshot.Query(a.WebDrifted));

        (snapshot.Id, snapshot.InstanceId, snapshot.InstanceName, snapshot.TakenAt, snapshot.DriftStatus, snapshot.DriftEventCount, snapshot.UnresolvedCount)
            .ShouldBe((a.WebDrifted, a.Web, "web", T0, "DRIFTED", 2L, 1L));
        snapshot.Declared.GetProperty("region").GetString().ShouldBe("sea");
        snapshot.Actual.GetProperty("region").GetString().ShouldBe("lhr");
        snapshot.DriftEvents.Select(item => (item.Id, item.FieldPath, item.Severity, item.Resolved, item.ResolvedBy)).ShouldBe(
        [
            (a.Region, "region", "HIGH", false, (string?)null),
            (a.Env, "env.X", "LOW", true, (string?)"user:test"),
        ]);
        var region = snapshot.DriftEvents[0];
        (region.SnapshotId, region.InstanceId, region.InstanceName, region.DetectedAt, region.DeclaredVal, region.ActualVal, region.Description, region.RemediationAction,
            region.RemediationCommand, region.ResolvedAt, region.Remediation).ShouldBe(
            (a.WebDrifted, a.Web, "web", T0, (string?)"declared", (string?)"actual", "region drifted", "Fix region", (string?)"sindri fix", (DateTime?)null, (RemediationView?)null));
    }

    [Fact]
    public async Task An_unknown_or_other_teams_snapshot_is_not_found()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetSnapshot.Query(a.HiddenError)))).Message.ShouldBe("Snapshot not found");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetSnapshot.Query(Guid.CreateVersion7())));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new GetSnapshot.Query(Guid.Empty)));
        (await Fixture.SendAsAsync(admin, new GetSnapshot.Query(a.HiddenError))).Error.ShouldBe("unreadable");
    }

    [Fact]
    public async Task The_latest_snapshot_carries_every_open_drift_of_the_instance()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var web = await Fixture.SendAsAsync(viewer, new GetLatestSnapshot.Query(a.Web));
        var db = await Fixture.SendAsAsync(viewer, new GetLatestSnapshot.Query(a.Db));

        // The CLEAN snapshot is newest; the region drift an earlier one found is still open, the resolved env.X is not shown.
        (web.Id, web.DriftStatus, web.DriftEventCount).ShouldBe((a.WebClean, "CLEAN", 0L));
        web.DriftEvents.Select(item => item.Id).ShouldBe([a.Region]);
        db.Id.ShouldBe(a.DbDrifted);
        var remediation = db.DriftEvents.ShouldHaveSingleItem().Remediation.ShouldNotBeNull();
        (remediation.Id, remediation.DriftEventId, remediation.InstanceId, remediation.Action, remediation.Command, remediation.Status)
            .ShouldBe((a.Remediation, a.Memory, a.Db, "Fix it", (string?)null, "PENDING"));
    }

    [Fact]
    public async Task An_instance_without_a_visible_snapshot_has_no_latest()
    {
        var a = await ArrangeAsync();
        var fresh = await DriftInstanceAsync("fresh");
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetLatestSnapshot.Query(fresh)))).Message.ShouldBe("No snapshot found for this instance");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetLatestSnapshot.Query(a.Hidden)));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new GetLatestSnapshot.Query(Guid.Empty)));
    }

    [Fact]
    public async Task The_summary_counts_latest_statuses_and_open_drift()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var summary = await Fixture.SendAsAsync(viewer, new GetDriftSummary.Query());

        summary.ByStatus.ShouldBe(new Dictionary<string, long> { ["CLEAN"] = 1, ["DRIFTED"] = 1, ["UNKNOWN"] = 0, ["ERROR"] = 0 });
        summary.BySeverity.ShouldBe(new Dictionary<string, long> { ["CRITICAL"] = 1, ["HIGH"] = 1, ["MEDIUM"] = 0, ["LOW"] = 0 });
        (summary.TotalUnresolved, summary.InstancesWithDrift, summary.TotalSnapshots).ShouldBe((2L, 2L, 3L));
        summary.RecentEvents.Select(item => item.Id).ShouldBe([a.Memory, a.Region]);
    }

    [Fact]
    public async Task The_summary_of_an_admin_includes_every_team()
    {
        var a = await ArrangeAsync();
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        var summary = await Fixture.SendAsAsync(admin, new GetDriftSummary.Query());

        summary.ByStatus["ERROR"].ShouldBe(1);
        summary.BySeverity["MEDIUM"].ShouldBe(1);
        (summary.TotalUnresolved, summary.InstancesWithDrift, summary.TotalSnapshots).ShouldBe((3L, 3L, 4L));
        summary.RecentEvents.Select(item => item.Id).ShouldBe([a.HiddenEvent, a.Memory, a.Region]);
    }

    [Fact]
    public async Task The_summary_shows_the_ten_newest_open_events()
    {
        var a = await ArrangeAsync();
        for (var i = 1; i <= 10; i++)
        {
            await EventAsync(a.DbDrifted, a.Db, $"env.V{i}", T0.AddHours(2).AddMinutes(i), "LOW");
        }

        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var summary = await Fixture.SendAsAsync(viewer, new GetDriftSummary.Query());

        summary.TotalUnresolved.ShouldBe(12);
        summary.RecentEvents.Select(item => item.FieldPath).ShouldBe(Enumerable.Range(1, 10).Reverse().Select(i => $"env.V{i}"));
    }

    [Fact]
    public async Task Events_list_newest_first_with_their_remediation()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var list = await Fixture.SendAsAsync(viewer, new ListDriftEvents.Query(null, null, null, null, null, null, FirstPage));

        (list.Total, list.TotalPages).ShouldBe((3L, 1));
        list.Data.ShouldBe(list.Events);
        list.Events.Select(item => item.Id).ShouldBe([a.Memory, a.Env, a.Region]);
        list.Events[0].Remediation.ShouldNotBeNull().Status.ShouldBe("PENDING");
        list.Events[1].Remediation.ShouldBeNull();
    }

    [Fact]
    public async Task Events_filter_by_instance_snapshot_severity_resolution_and_time_and_page()
    {
        var a = await ArrangeAsync();
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);

        async Task<IEnumerable<Guid>> IdsAsync(TestUser user, ListDriftEvents.Query query) => (await Fixture.SendAsAsync(user, query)).Events.Select(item => item.Id);

        (await IdsAsync(viewer, new(a.Db, null, null, null, null, null, FirstPage))).ShouldBe([a.Memory]);
        (await IdsAsync(viewer, new(null, a.WebDrifted, null, null, null, null, FirstPage))).ShouldBe([a.Env, a.Region]);
        (await IdsAsync(viewer, new(null, null, "high", null, null, null, FirstPage))).ShouldBe([a.Region]);
        (await IdsAsync(viewer, new(null, null, null, true, null, null, FirstPage))).ShouldBe([a.Env]);
        (await IdsAsync(viewer, new(null, null, null, false, null, null, FirstPage))).ShouldBe([a.Memory, a.Region]);
        (await IdsAsync(viewer, new(null, null, null, null, T0.AddMinutes(1), null, FirstPage))).ShouldBe([a.Memory, a.Env]);
        (await IdsAsync(viewer, new(null, null, null, null, null, T0, FirstPage))).ShouldBe([a.Region]);
        (await IdsAsync(viewer, new(a.Hidden, null, null, null, null, null, FirstPage))).ShouldBeEmpty();
        (await IdsAsync(admin, new(a.Hidden, null, null, null, null, null, FirstPage))).ShouldBe([a.HiddenEvent]);

        var page = await Fixture.SendAsAsync(viewer, new ListDriftEvents.Query(null, null, null, null, null, null, new PageRequest(1, 1)));
        page.Events.Select(item => item.Id).ShouldBe([a.Env]);
        (page.Total, page.Page, page.PageSize, page.TotalPages, page.Pagination.HasMore).ShouldBe((3L, 2, 1, 3, true));
        await Should.ThrowAsync<FluentValidation.ValidationException>(() => Fixture.SendAsAsync(viewer, new ListDriftEvents.Query(null, null, "URGENT", null, null, null, FirstPage)));
    }
}
