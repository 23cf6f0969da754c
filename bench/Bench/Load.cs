using System.Diagnostics;
using System.Globalization;

namespace Capstan.Bench;

/// <summary>One row of the table.</summary>
public sealed record Row(string Scenario, string Unit, double Throughput, double P50Ms, double P99Ms, long Errors, long Samples, double PeakRssMb, double LoadCpu, double ApiCpu)
{
    public string Ceiling { get; init; } = "";

    public string Ratio { get; init; } = "";

    public string Note { get; init; } = "";

    public string Server { get; init; } = "API";

    /// <summary>The share of the machine's CPU the hypervisor took during the scenario (NaN when not measured).</summary>
    public double HostSteal { get; init; } = double.NaN;
}

/// <summary>What the API process and this process did during a measured window.</summary>
public sealed class ProcessWatch : IAsyncDisposable
{
    private readonly int _apiPid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _sampler;
    private readonly TimeSpan _ownCpuStart = Process.GetCurrentProcess().TotalProcessorTime;
    private readonly double _apiCpuStart;
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly (long Steal, long Total) _hostStart = Bench.HostSteal.Snapshot();
    private long _peakRssKb;

    public ProcessWatch(int apiPid)
    {
        _apiPid = apiPid;
        _apiCpuStart = ApiCpuSeconds(apiPid);
        _peakRssKb = RssKb(apiPid);
        _sampler = Task.Run(async () =>
        {
            while (!_stop.IsCancellationRequested)
            {
                _peakRssKb = Math.Max(_peakRssKb, RssKb(_apiPid));
                try
                {
                    await Task.Delay(50, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
    }

    public double PeakRssMb => _peakRssKb / 1024.0;

    /// <summary>This process's CPU use over the window, in cores (1.0 = one core busy).</summary>
    public double LoadCpu { get; private set; }

    public double ApiCpu { get; private set; }

    /// <summary>The share of the machine's CPU time the hypervisor took over the window.</summary>
    public double HostSteal { get; private set; }

    public async ValueTask DisposeAsync()
    {
        var wall = Stopwatch.GetElapsedTime(_started).TotalSeconds;
        LoadCpu = (Process.GetCurrentProcess().TotalProcessorTime - _ownCpuStart).TotalSeconds / wall;
        ApiCpu = (ApiCpuSeconds(_apiPid) - _apiCpuStart) / wall;
        HostSteal = Bench.HostSteal.Fraction(_hostStart, Bench.HostSteal.Snapshot());
        await _stop.CancelAsync();
        await _sampler;
        _stop.Dispose();
    }

    public static long RssKb(int pid)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                {
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (IOException)
        {
        }

        return 0;
    }

    private static double ApiCpuSeconds(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the command name and state.
            return (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / 100.0;
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

/// <summary>Closed-loop and paced load with latency samples.</summary>
public static class Load
{
    /// <summary>One operation: returns how many units it completed (0 = an error), e.g. 1 request or 1000 rows.</summary>
    public delegate Task<int> Operation(int worker, CancellationToken cancellationToken);

    public sealed record Outcome(double UnitsPerSecond, double P50Ms, double P99Ms, long Errors, long Samples, ProcessWatch Watch)
    {
        /// <summary>Paced runs only: per window of <see cref="WindowMs"/> by scheduled start, the requests and the slowest.</summary>
        public IReadOnlyList<Window> Windows { get; init; } = [];
    }

    public sealed record Window(double StartSeconds, int Requests, double MaxMs);

    public const int WindowMs = 250;

    /// <summary>Closed loop: <paramref name="concurrency"/> workers send back to back; warm-up first, unrecorded.</summary>
    public static async Task<Outcome> ClosedAsync(int apiPid, int concurrency, TimeSpan warmup, TimeSpan duration, Operation operation)
    {
        await RunWorkersAsync(concurrency, warmup, operation, null);
        var samples = new List<double>[concurrency];
        var errors = new long[concurrency];
        var units = new long[concurrency];
        var watch = new ProcessWatch(apiPid);
        var started = Stopwatch.GetTimestamp();
        await using (watch)
        {
            await RunWorkersAsync(concurrency, duration, operation, (worker, latency, done) =>
            {
                (samples[worker] ??= new List<double>(4096)).Add(latency);
                if (done == 0)
                {
                    errors[worker]++;
                }

                units[worker] += done;
            });
        }

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var all = samples.Where(list => list is not null).SelectMany(list => list).ToArray();
        return new Outcome(units.Sum() / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors.Sum(), all.Length, watch);
    }

    /// <summary>Open loop at a fixed rate; latency counts from each request's scheduled start (no coordinated omission).
    /// The same rate runs for <paramref name="warmup"/> first, unrecorded: the first second at a new rate opens connections
    /// (HTTP and database pools grow to the rate's concurrency), which is start-up, not steady state. Warm-up and the
    /// recorded window are one unbroken stream: restarting the workers at the boundary drained the pipeline and started
    /// 64 workers at once, and the first 250 ms of the window read as its slowest in most runs.</summary>
    public static async Task<Outcome> PacedAsync(
        int apiPid, double ratePerSecond, TimeSpan warmup, TimeSpan duration, int maxInFlight, Operation operation, Func<Task>? warmedUp = null)
    {
        var samples = new List<(double Offset, double Latency)>[maxInFlight];
        var errors = new long[maxInFlight];
        ProcessWatch? watch = null;
        var started = 0L;
        var boundary = Task.Run(async () =>
        {
            await Task.Delay(warmup);
            if (warmedUp is not null)
            {
                await warmedUp();
            }

            watch = new ProcessWatch(apiPid);
            started = Stopwatch.GetTimestamp();
        });
        var warmupSeconds = warmup.TotalSeconds;
        await PaceAsync(ratePerSecond, warmup + duration, maxInFlight, operation, (worker, offset, latency, done) =>
        {
            if (offset < warmupSeconds)
            {
                return;
            }

            (samples[worker] ??= new List<(double, double)>(1024)).Add((offset - warmupSeconds, latency));
            if (done == 0)
            {
                errors[worker]++;
            }
        });
        await boundary;
        await watch!.DisposeAsync();

        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var recorded = samples.Where(list => list is not null).SelectMany(list => list).ToArray();
        var all = recorded.Select(sample => sample.Latency).ToArray();
        var windows = recorded
            .GroupBy(sample => (int)(sample.Offset * 1000 / WindowMs))
            .OrderBy(window => window.Key)
            .Select(window => new Window(window.Key * WindowMs / 1000.0, window.Count(), window.Max(sample => sample.Latency)))
            .ToList();
        return new Outcome(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), errors.Sum(), all.Length, watch) { Windows = windows };
    }

    /// <summary>Sends at the rate; <paramref name="record"/> gets the worker, the scheduled start (seconds from the first),
    /// the latency from that start in ms and the units done.</summary>
    private static async Task PaceAsync(double ratePerSecond, TimeSpan duration, int maxInFlight, Operation operation, Action<int, double, double, int>? record)
    {
        var total = (long)(ratePerSecond * duration.TotalSeconds);
        var interval = Stopwatch.Frequency / ratePerSecond;
        long next = -1;
        var origin = Stopwatch.GetTimestamp();
        var workers = Enumerable.Range(0, maxInFlight).Select(worker => Task.Run(async () =>
        {
            while (true)
            {
                var ticket = Interlocked.Increment(ref next);
                if (ticket >= total)
                {
                    return;
                }

                var scheduled = origin + (long)(ticket * interval);
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), scheduled);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                var done = await AttemptAsync(operation, worker);
                record?.Invoke(worker, ticket / ratePerSecond, Stopwatch.GetElapsedTime(scheduled).TotalMilliseconds, done);
            }
        }));
        await Task.WhenAll(workers);
    }

    public static double Percentile(double[] values, double quantile)
    {
        if (values.Length == 0)
        {
            return double.NaN;
        }

        Array.Sort(values);
        return values[Math.Min(values.Length - 1, (int)Math.Ceiling(quantile * values.Length) - 1)];
    }

    private static async Task RunWorkersAsync(int concurrency, TimeSpan duration, Operation operation, Action<int, double, int>? record)
    {
        using var stop = new CancellationTokenSource(duration);
        var workers = Enumerable.Range(0, concurrency).Select(worker => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                var started = Stopwatch.GetTimestamp();
                var done = await AttemptAsync(operation, worker);
                record?.Invoke(worker, Stopwatch.GetElapsedTime(started).TotalMilliseconds, done);
            }
        }));
        await Task.WhenAll(workers);
    }

    /// <summary>One operation; a failed connection or a timeout counts as an error (0 units), not a crash of the run.</summary>
    private static async Task<int> AttemptAsync(Operation operation, int worker)
    {
        try
        {
            return await operation(worker, CancellationToken.None);
        }
        catch (Exception exception) when (exception is HttpRequestException or IOException or TaskCanceledException)
        {
            return 0;
        }
    }
}
