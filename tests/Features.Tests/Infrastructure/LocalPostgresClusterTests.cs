using System.Diagnostics;
using Capstan.Infrastructure.Data;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>Ephemeral clusters left behind by earlier processes are removed; one a server still runs on, one too young
/// to tell from a cluster being created, and other directories are kept.</summary>
public sealed class LocalPostgresClusterTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("capstan-cluster-sweep-");

    public void Dispose() => _temp.Delete(recursive: true);

    private string Cluster(string name, int? postmasterPid, TimeSpan age)
    {
        var root = Path.Combine(_temp.FullName, name);
        var data = Directory.CreateDirectory(Path.Combine(root, "postgres")).FullName;
        File.WriteAllText(Path.Combine(data, "PG_VERSION"), "15\n");
        if (postmasterPid is { } pid)
        {
            File.WriteAllText(Path.Combine(data, "postmaster.pid"), $"{pid}\n{data}\n");
        }

        Directory.SetLastWriteTimeUtc(root, DateTime.UtcNow - age);
        return root;
    }

    private static int ExitedProcessId()
    {
        using var process = Process.Start(new ProcessStartInfo("true") { UseShellExecute = false })!;
        process.WaitForExit();
        return process.Id;
    }

    [Fact]
    public void Abandoned_clusters_are_removed_and_live_or_young_ones_kept()
    {
        var crashed = Cluster("capstan-pg-crashed0001", ExitedProcessId(), TimeSpan.FromHours(2));
        var stopped = Cluster("capstan-pg-stopped0001", null, TimeSpan.FromHours(2));
        var running = Cluster("capstan-pg-running0001", Environment.ProcessId, TimeSpan.FromHours(2));
        var young = Cluster("capstan-pg-young000001", null, TimeSpan.FromMinutes(1));
        var unrelated = Cluster("someone-else-0001", null, TimeSpan.FromHours(2));

        var removed = LocalPostgresCluster.RemoveAbandoned(_temp.FullName, TimeSpan.FromMinutes(10));

        removed.ShouldBe(2);
        Directory.Exists(crashed).ShouldBeFalse();
        Directory.Exists(stopped).ShouldBeFalse();
        Directory.Exists(running).ShouldBeTrue("a server still runs on it");
        Directory.Exists(young).ShouldBeTrue("it may be another process's cluster being created");
        Directory.Exists(unrelated).ShouldBeTrue();
    }
}
