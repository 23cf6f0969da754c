namespace Capstan.Bench;

/// <summary>
/// The share of the machine's CPU time the hypervisor gave to someone else (the <c>steal</c> column of
/// <c>/proc/stat</c>), overall and per window of <see cref="Load.WindowMs"/> from when it was made: on a shared
/// virtual machine a window whose requests were slow for no reason of ours shows up here.
/// </summary>
public sealed class HostSteal : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly List<double> _perWindow = [];
    private readonly (long Steal, long Total) _first;
    private (long Steal, long Total) _last;
    private readonly Task _sampler;

    public HostSteal()
    {
        _first = _last = Read();
        _sampler = Task.Run(SampleAsync);
    }

    /// <summary>Steal as a fraction of all CPU time, per window in order.</summary>
    public IReadOnlyList<double> PerWindow => _perWindow;

    /// <summary>Steal as a fraction of all CPU time from the start to the end.</summary>
    public double Overall { get; private set; }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _sampler;
        var end = Read();
        Overall = Fraction(_first, end);
        _stop.Dispose();
    }

    private async Task SampleAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(Load.WindowMs));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                var now = Read();
                _perWindow.Add(Fraction(_last, now));
                _last = now;
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    /// <summary>The machine's steal and total CPU ticks so far; two of them give the steal in between.</summary>
    public static (long Steal, long Total) Snapshot() => Read();

    public static double Fraction((long Steal, long Total) from, (long Steal, long Total) to) =>
        to.Total > from.Total ? (to.Steal - from.Steal) / (double)(to.Total - from.Total) : 0;

    /// <summary>The first line of /proc/stat: user nice system idle iowait irq softirq steal ... (in clock ticks).</summary>
    private static (long Steal, long Total) Read()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var ticks = fields.Skip(1).Take(8).Select(long.Parse).ToArray();
            return (ticks[7], ticks.Sum());
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (0, 0);
        }
    }
}
