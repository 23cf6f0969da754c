using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Capstan.Infrastructure.Observability;

/// <summary>The standard Prometheus process metrics (<c>process_resident_memory_bytes</c>,
/// <c>process_cpu_seconds_total</c>, <c>process_start_time_seconds</c>, <c>process_open_fds</c>), read at scrape time.</summary>
public sealed class ProcessMetrics
{
    public const string MeterName = "Capstan.Process";

    public ProcessMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        var startTime = Process.GetCurrentProcess().StartTime.ToUniversalTime();

        meter.CreateObservableGauge("process.resident_memory", () => Environment.WorkingSet, unit: "By", description: "Resident memory size in bytes.");
        meter.CreateObservableCounter(
            "process.cpu",
            () => Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds,
            unit: "s",
            description: "Total user and system CPU time spent in seconds.");
        meter.CreateObservableGauge(
            "process.start_time",
            () => new DateTimeOffset(startTime).ToUnixTimeMilliseconds() / 1000.0,
            unit: "s",
            description: "Start time of the process since unix epoch in seconds.");
        meter.CreateObservableGauge("process.open_fds", OpenFileDescriptors, description: "Number of open file descriptors.");
        meter.CreateObservableGauge("process.threads", () => ThreadPool.ThreadCount, description: "Number of thread-pool threads.");
        meter.CreateObservableGauge("process.managed_heap", () => GC.GetTotalMemory(false), unit: "By", description: "Bytes in the managed heap.");
    }

    private static IEnumerable<Measurement<int>> OpenFileDescriptors()
    {
        const string FdDirectory = "/proc/self/fd";
        return Directory.Exists(FdDirectory) ? [new Measurement<int>(Directory.GetFiles(FdDirectory).Length)] : [];
    }
}
