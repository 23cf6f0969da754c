using Capstan.Features.Fleet.Tasks;

namespace Capstan.Features.Tests.Fleet.Tasks;

/// <summary>Cron scheduling with next runs worked out by hand.</summary>
public sealed class TaskScheduleTests
{
    private static readonly DateTime Wednesday = new(2025, 1, 15, 13, 30, 0, DateTimeKind.Utc);

    [Theory]
    [InlineData("0 2 * * *", "2025-01-16T02:00:00Z")] // daily at 02:00: tomorrow
    [InlineData("*/15 * * * *", "2025-01-15T13:45:00Z")] // every quarter hour: 13:30 itself is not after 13:30
    [InlineData("0 3 * * 0", "2025-01-19T03:00:00Z")] // Sundays at 03:00
    [InlineData("0 4 * * 1", "2025-01-20T04:00:00Z")] // Mondays at 04:00
    [InlineData("30 13 15 1 *", "2026-01-15T13:30:00Z")] // this very minute is past: next year
    [InlineData("0 9-17/4 * * MON-FRI", "2025-01-15T17:00:00Z")] // 09, 13, 17 on weekdays
    public void Next_runs_follow_the_expression_in_utc(string cron, string expected) =>
        TaskSchedule.Next(cron, "UTC", Wednesday).ShouldBe(DateTime.Parse(expected, null, System.Globalization.DateTimeStyles.AdjustToUniversal));

    [Fact]
    public void A_time_zone_moves_the_run_to_local_time()
    {
        // 02:00 in Berlin is 01:00 UTC in winter (CET, +1) and 00:00 UTC in summer (CEST, +2).
        TaskSchedule.Next("0 2 * * *", "Europe/Berlin", Wednesday).ShouldBe(new DateTime(2025, 1, 16, 1, 0, 0, DateTimeKind.Utc));
        TaskSchedule.Next("0 2 * * *", "Europe/Berlin", new DateTime(2025, 7, 1, 12, 0, 0, DateTimeKind.Utc)).ShouldBe(new DateTime(2025, 7, 2, 0, 0, 0, DateTimeKind.Utc));
        // New York (EST, −5): 09:00 local is 14:00 UTC, still ahead of 13:30 UTC today.
        TaskSchedule.Next("0 9 * * *", "America/New_York", Wednesday).ShouldBe(new DateTime(2025, 1, 15, 14, 0, 0, DateTimeKind.Utc));
    }

    [Fact]
    public void A_local_time_skipped_by_daylight_saving_runs_right_after_the_jump()
    {
        // On 2025-03-30 Berlin jumps from 02:00 to 03:00 CEST: 02:30 does not exist; the run is at 03:00 CEST = 01:00 UTC.
        TaskSchedule.Next("30 2 * * *", "Europe/Berlin", new DateTime(2025, 3, 29, 12, 0, 0, DateTimeKind.Utc)).ShouldBe(new DateTime(2025, 3, 30, 1, 0, 0, DateTimeKind.Utc));
    }

    [Theory]
    [InlineData("0 2 * * *", true)]
    [InlineData("*/5 * * * 1-5", true)]
    [InlineData("0 2 * *", false)] // four fields
    [InlineData("0 0 2 * * *", false)] // six fields (seconds) are not a 5-field schedule
    [InlineData("x 2 * * *", false)]
    [InlineData("61 * * * *", false)]
    [InlineData("", false)]
    public void Expressions_are_checked(string cron, bool valid) => TaskSchedule.IsValid(cron).ShouldBe(valid);

    [Fact]
    public void Time_zones_are_known_or_refused()
    {
        TaskSchedule.Zone("Europe/Berlin").ShouldNotBeNull();
        TaskSchedule.Zone(null).ShouldBe(TimeZoneInfo.Utc);
        TaskSchedule.Zone("Mars/Olympus").ShouldBeNull();
    }
}
