using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Infrastructure.Health;

/// <summary>
/// Brings the service to ready in the background so probes answer from the first second: reaches the database
/// (starting the local cluster when none is configured), applies migrations unless <c>Database:MigrateOnStartup</c>
/// is false, then marks the service ready. A database that is not there yet is retried; an edited or failing
/// migration marks the service failed.
/// </summary>
public sealed class StartupInitializer(
    IServiceProvider services,
    IConfiguration configuration,
    ServiceReadiness readiness,
    IEnumerable<IStartupTask> startupTasks,
    ILogger<StartupInitializer> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Leave the host's start-up path first: resolving the database may start a local cluster.
        await Task.Yield();
        var delay = TimeSpan.FromSeconds(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                // Work that needs no schema (hashing the bootstrap password) overlaps the migrations; both are awaited
                // together, so a failure of either is seen.
                var preparing = Task.WhenAll(startupTasks.Select(task => Task.Run(() => task.PrepareAsync(stoppingToken), stoppingToken)));
                await Task.WhenAll(ReachDatabaseAsync(stoppingToken), preparing);

                // Independent of each other, so side by side (each on the thread pool: some hash or parse before their
                // first await): start-up waits for the slowest, not for the sum.
                await Task.WhenAll(startupTasks.Select(task => Task.Run(() => task.RunAsync(stoppingToken), stoppingToken)));

                readiness.MarkReady();
                logger.LogInformation("Capstan is ready");
                await CatchUpAsync(stoppingToken);
                return;
            }
            catch (Exception exception) when (IsTransient(exception) && !stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning("Database not reachable yet ({Reason}); retrying in {Delay} s", exception.Message, delay.TotalSeconds);
                await Task.Delay(delay, stoppingToken);
                delay = TimeSpan.FromSeconds(Math.Min(delay.TotalSeconds * 2, 15));
            }
            catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
            {
                readiness.MarkFailed();
                logger.LogCritical(exception, "Capstan initialization failed");
                return;
            }
        }
    }

    private async Task ReachDatabaseAsync(CancellationToken stoppingToken)
    {
        if (configuration.GetValue("Database:MigrateOnStartup", true))
        {
            var result = await services.GetRequiredService<Migrator>().MigrateAsync(stoppingToken);
            logger.LogInformation("Migrations: {Applied} applied now, {Existing} already applied", result.Applied.Count, result.AlreadyApplied);
        }
        else
        {
            // Migrations are someone else's job (a migration Job, the test fixture); just reach the database.
            await using var connection = await services.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(stoppingToken);
        }
    }

    /// <summary>The start-up tasks' work that may finish after ready; a failure is logged, not fatal (their
    /// recurring maintenance retries it).</summary>
    private async Task CatchUpAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.WhenAll(startupTasks.Select(task => Task.Run(() => task.AfterReadyAsync(stoppingToken), stoppingToken)));
        }
        catch (Exception exception) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError(exception, "Start-up catch-up after ready failed");
        }
        finally
        {
            readiness.MarkCaughtUp();
        }
    }

    private static bool IsTransient(Exception exception) => exception switch
    {
        NpgsqlException { IsTransient: true } => true,
        PostgresException { SqlState: "57P03" } => true, // the database system is starting up
        PostgresException { SqlState: "55P03" } => true, // a migration's lock_timeout: live traffic held a lock
        System.Net.Sockets.SocketException or TimeoutException => true,
        _ => false,
    };
}

/// <summary>Work that must finish before the service reports ready (after migrations), such as creating the
/// bootstrap administrator. Tasks run concurrently, so one must not depend on another.</summary>
public interface IStartupTask
{
    /// <summary>Work that can start before the migrations and run while they do (CPU work, reads that tolerate a
    /// schema not created yet). <see cref="RunAsync"/> starts after it has finished.</summary>
    Task PrepareAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    Task RunAsync(CancellationToken cancellationToken);

    /// <summary>Work that can finish just after ready: catching up that the service can briefly answer without. The
    /// tasks run side by side right after ready; <see cref="ServiceReadiness.CaughtUp"/> completes when they end.</summary>
    Task AfterReadyAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
