using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Background;

/// <summary>
/// Work a request starts and does not wait for (a resource sync, a build monitor, a Git clone): it runs on the thread
/// pool in a DI scope of its own, ends when the host stops, and its failures are logged, never thrown at anyone.
/// The state it works on lives in the database, so a recurring job can pick up what a stopped replica left behind.
/// Built on framework services only (<see cref="IServiceScopeFactory"/>, <see cref="IHostApplicationLifetime"/>).
/// </summary>
public static class BackgroundWork
{
    public static Task Start(IServiceProvider services, string name, Func<IServiceProvider, CancellationToken, Task> work)
    {
        var scopes = services.GetRequiredService<IServiceScopeFactory>();
        var stopping = services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("Capstan.Background");
        return Task.Run(
            async () =>
            {
                try
                {
                    await using var scope = scopes.CreateAsyncScope();
                    await work(scope.ServiceProvider, stopping);
                }
                catch (OperationCanceledException) when (stopping.IsCancellationRequested)
                {
                    logger.LogInformation("Background work {Name} stopped with the host", name);
                }
                catch (Exception exception)
                {
                    logger.LogError(exception, "Background work {Name} failed", name);
                }
            },
            CancellationToken.None);
    }
}
