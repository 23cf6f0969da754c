using Capstan.Infrastructure.Health;

namespace Capstan.Infrastructure.Security;

/// <summary>Computes the hash that sign-ins of unknown users are checked against just after ready, so the first such
/// sign-in takes as long as every later one (uniform timing) and start-up does not wait for it.</summary>
public sealed class PasswordTimingWarmUp : IStartupTask
{
    public Task RunAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task AfterReadyAsync(CancellationToken cancellationToken)
    {
        Passwords.WarmUp();
        return Task.CompletedTask;
    }
}
