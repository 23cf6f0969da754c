using System.Security.Cryptography;
using System.Text;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Infrastructure.Background;

/// <summary>
/// Background work that runs every <see cref="Interval"/> once per fleet: each run takes a PostgreSQL advisory lock
/// named after the job, so with many replicas one of them does it. Runs start once the service is ready, each in
/// its own DI scope; a failing run is logged and retried at the next interval. <c>Jobs:Enabled=false</c> switches
/// every job off (tests run them by hand).
/// </summary>
public abstract class RecurringJob(IServiceProvider services, ILogger logger) : BackgroundService
{
    /// <summary>The name the lock and the logs use.</summary>
    public abstract string Name { get; }

    public abstract TimeSpan Interval { get; }

    /// <summary>Delay before the first run after start-up.</summary>
    protected virtual TimeSpan FirstRunDelay => TimeSpan.FromSeconds(30);

    /// <summary>One run of the job, in a scope of its own.</summary>
    public abstract Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken);

    /// <summary>Runs once now if no other replica holds the job's lock; false when another one does.</summary>
    public async Task<bool> TryRunAsync(CancellationToken cancellationToken)
    {
        await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
        if (!await TryLockAsync(connection, cancellationToken))
        {
            return false;
        }

        try
        {
            await using var scope = services.CreateAsyncScope();
            await RunOnceAsync(scope.ServiceProvider, cancellationToken);
            return true;
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
            unlock.Parameters.AddWithValue("key", LockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (!services.GetRequiredService<IConfiguration>().GetValue("Jobs:Enabled", true))
        {
            return;
        }

        var readiness = services.GetRequiredService<ServiceReadiness>();
        while (!readiness.IsReady && !stoppingToken.IsCancellationRequested)
        {
            await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken);
        }

        await Task.Delay(FirstRunDelay, stoppingToken);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await TryRunAsync(stoppingToken);
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogError(exception, "Background job {Job} failed; next run in {Interval}", Name, Interval);
            }

            await Task.Delay(Interval, stoppingToken);
        }
    }

    private long LockKey => BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("capstan-job:" + Name)), 0);

    private async Task<bool> TryLockAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_try_advisory_lock(@key)", connection);
        command.Parameters.AddWithValue("key", LockKey);
        return (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
    }
}
