using System.Globalization;
using Capstan.Features.Delivery.Dashboard;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Delivery.Dashboard;

/// <summary>The dashboard slices through the real pipeline: the caller's own figures with their change against the
/// last snapshot of an earlier month (and this month's snapshot recorded), and the recently changed workflows.</summary>
[Collection(DeliveryHandlerCollection.Name)]
public sealed class DashboardHandlerTests(DeliveryHandlerFixture fixture) : HandlerTest<DeliveryHandlerFixture>(fixture)
{
    private static string ThisMonth => DateTime.UtcNow.ToString("yyyy-MM", CultureInfo.InvariantCulture);

    private static string LastMonth => DateTime.UtcNow.AddMonths(-1).ToString("yyyy-MM", CultureInfo.InvariantCulture);

    private async Task<Guid> WorkflowAsync(TestUser owner, string name, string status = "draft", long runs = 0, long successes = 0, bool deleted = false, int minutesAgo = 0)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO delivery.workflows (id, owner_id, name, description, status, run_count, success_count, failure_count, updated_at, deleted_at)
            VALUES (@Id, @Owner, @Name, 'the ' || @Name, @Status, @Runs, @Successes, @Runs - @Successes, now() - make_interval(mins => @MinutesAgo),
                    CASE WHEN @Deleted THEN now() END)
            """,
            new { Id = id, Owner = owner.Id, Name = name, Status = status, Runs = runs, Successes = successes, Deleted = deleted, MinutesAgo = minutesAgo });
        return id;
    }

    private Task SnapshotAsync(TestUser user, string month, long total, long published, long runs, double rate) =>
        Fixture.ExecuteAsync(
            """
            INSERT INTO delivery.dashboard_snapshots (user_id, month, total_workflows, published_workflows, total_runs, success_rate, computed_at)
            VALUES (@User, @Month, @Total, @Published, @Runs, @Rate, now())
            """,
            new { User = user.Id, Month = month, Total = total, Published = published, Runs = runs, Rate = rate });

    [Fact]
    public async Task Stats_count_only_the_callers_live_workflows_and_are_neutral_without_an_earlier_month()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        await WorkflowAsync(viewer, "a", "published", runs: 8, successes: 6);
        await WorkflowAsync(viewer, "b", "published", runs: 4, successes: 1);
        await WorkflowAsync(viewer, "c");
        await WorkflowAsync(viewer, "gone", "published", runs: 100, successes: 0, deleted: true);
        await WorkflowAsync(other, "theirs", "published", runs: 50, successes: 50);

        var stats = await Fixture.SendAsAsync(viewer, new GetDashboardStats.Command());

        stats.TotalWorkflows.ShouldBe(new GetDashboardStats.Stat("3", 0, "neutral"));
        stats.PublishedWorkflows.ShouldBe(new GetDashboardStats.Stat("2", 0, "neutral"));
        stats.TotalRuns.ShouldBe(new GetDashboardStats.Stat("12", 0, "neutral"));
        stats.SuccessRate.ShouldBe(new GetDashboardStats.Stat("58.3%", 0, "neutral"));
        stats.Month.ShouldBe(ThisMonth);
        (DateTime.UtcNow - stats.LastComputedAt).ShouldBeLessThan(TimeSpan.FromMinutes(5));
        var snapshot = (await Fixture.QueryAsync<(string Month, long Total, long Published, long Runs, double Rate)>(
            "SELECT month, total_workflows, published_workflows, total_runs, success_rate FROM delivery.dashboard_snapshots WHERE user_id = @User",
            new { User = viewer.Id })).Single();
        snapshot.ShouldBe((ThisMonth, 3L, 2L, 12L, 58.3));
    }

    [Fact]
    public async Task Stats_compare_with_the_callers_latest_earlier_snapshot()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await WorkflowAsync(viewer, "a", "published", runs: 7, successes: 7);
        await WorkflowAsync(viewer, "b", runs: 3, successes: 0);
        await WorkflowAsync(viewer, "c");
        await SnapshotAsync(viewer, "2000-01", 100, 100, 100, 10);
        await SnapshotAsync(viewer, LastMonth, 2, 2, 0, 80);
        await SnapshotAsync(other, LastMonth, 1, 1, 1, 1);

        var stats = await Fixture.SendAsAsync(viewer, new GetDashboardStats.Command());

        stats.TotalWorkflows.ShouldBe(new GetDashboardStats.Stat("3", 50, "up"));
        stats.PublishedWorkflows.ShouldBe(new GetDashboardStats.Stat("1", -50, "down"));
        stats.TotalRuns.ShouldBe(new GetDashboardStats.Stat("10", 100, "up"), "from zero any runs are a 100% rise");
        stats.SuccessRate.ShouldBe(new GetDashboardStats.Stat("70.0%", -10, "down"), "the rate changes in percentage points");
    }

    [Fact]
    public async Task Stats_keep_one_snapshot_per_month_updated_on_every_call_and_compare_only_with_earlier_months()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await WorkflowAsync(viewer, "a");
        await Fixture.SendAsAsync(viewer, new GetDashboardStats.Command());
        await WorkflowAsync(viewer, "b");

        var second = await Fixture.SendAsAsync(viewer, new GetDashboardStats.Command());

        second.TotalWorkflows.ShouldBe(new GetDashboardStats.Stat("2", 0, "neutral"), "this month's own snapshot is no comparison");
        (await Fixture.QueryAsync<long>("SELECT total_workflows FROM delivery.dashboard_snapshots WHERE user_id = @User", new { User = viewer.Id })).ShouldBe([2L]);
    }

    [Fact]
    public async Task Recent_workflows_are_the_callers_live_ones_newest_change_first_without_graphs()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var other = await Fixture.CreateUserAsync(BaseRole.Developer);
        var oldest = await WorkflowAsync(viewer, "oldest", minutesAgo: 30);
        var newest = await WorkflowAsync(viewer, "newest", "published", minutesAgo: 1);
        var middle = await WorkflowAsync(viewer, "middle", minutesAgo: 10);
        await WorkflowAsync(viewer, "deleted", deleted: true);
        await WorkflowAsync(other, "theirs");

        var all = await Fixture.SendAsAsync(viewer, new GetRecentWorkflows.Query(20));
        var two = await Fixture.SendAsAsync(viewer, new GetRecentWorkflows.Query(2));

        all.Workflows.Select(workflow => workflow.Id).ShouldBe([newest, middle, oldest]);
        all.Workflows[0].Name.ShouldBe("newest");
        all.Workflows[0].Status.ShouldBe("published");
        all.Workflows[0].Description.ShouldBe("the newest");
        all.Workflows.ShouldAllBe(workflow => workflow.Nodes == null && workflow.Edges == null);
        two.Workflows.Select(workflow => workflow.Name).ShouldBe(["newest", "middle"]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(21)]
    public async Task Recent_workflows_take_a_limit_from_1_to_20(int limit)
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var failure = await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetRecentWorkflows.Query(limit)));

        failure.Errors.Select(error => error.PropertyName).ShouldBe(["limit"]);
    }
}
