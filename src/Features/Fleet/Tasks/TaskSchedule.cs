using NCrontab;

namespace Capstan.Features.Fleet.Tasks;

/// <summary>
/// Cron schedules of scheduled tasks (NCrontab, five fields: minute hour day-of-month month day-of-week, with
/// <c>*</c>, <c>*/n</c>, ranges <c>a-b</c> and <c>a-b/n</c>, lists and names). Times are those of the task's IANA (or
/// Windows) time zone, so <c>0 2 * * *</c> in <c>Europe/Berlin</c> runs at 02:00 Berlin time, whatever UTC offset
/// that has that day; a local time skipped by a daylight-saving jump runs at the first instant after it.
/// </summary>
internal static class TaskSchedule
{
    public static bool IsValid(string? cron) => cron is not null && cron.Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries).Length == 5 && CrontabSchedule.TryParse(cron.Trim()) is not null;

    public static TimeZoneInfo? Zone(string? timezone) =>
        string.IsNullOrWhiteSpace(timezone) ? TimeZoneInfo.Utc : TimeZoneInfo.TryFindSystemTimeZoneById(timezone.Trim(), out var zone) ? zone : null;

    /// <summary>The first run strictly after <paramref name="afterUtc"/>, in UTC.</summary>
    public static DateTime Next(string cron, string timezone, DateTime afterUtc)
    {
        var schedule = CrontabSchedule.Parse(cron.Trim());
        var zone = Zone(timezone) ?? TimeZoneInfo.Utc;
        var local = TimeZoneInfo.ConvertTimeFromUtc(DateTime.SpecifyKind(afterUtc, DateTimeKind.Utc), zone);
        var next = schedule.GetNextOccurrence(DateTime.SpecifyKind(local, DateTimeKind.Unspecified));
        while (zone.IsInvalidTime(next))
        {
            next = next.AddMinutes(1);
        }

        var utc = TimeZoneInfo.ConvertTimeToUtc(next, zone);
        // An ambiguous local time (clocks going back) maps to its first occurrence, which can precede afterUtc.
        return utc > afterUtc ? utc : Next(cron, timezone, afterUtc.AddHours(1));
    }
}
