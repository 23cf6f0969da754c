using System.Diagnostics;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Infrastructure.Health;

/// <summary>Pings the database with a deadline. Failures are described generically: a probe is public and must not
/// leak host names or driver messages.</summary>
public sealed class DatabaseProbe(IServiceProvider services)
{
    public static readonly TimeSpan Deadline = TimeSpan.FromSeconds(2);

    public async Task<ProbeResult> CheckAsync(CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(Deadline);
        var watch = Stopwatch.StartNew();
        try
        {
            await using var command = services.GetRequiredService<DataSources>().Primary.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(deadline.Token);
            return new ProbeResult(true, watch.Elapsed.TotalMilliseconds, null);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new ProbeResult(false, watch.Elapsed.TotalMilliseconds, "timeout");
        }
        catch (Exception exception) when (exception is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            return new ProbeResult(false, watch.Elapsed.TotalMilliseconds, "unreachable");
        }
    }
}

public sealed record ProbeResult(bool Healthy, double LatencyMs, string? Error);
