namespace Capstan.Infrastructure.Health;

public enum StartupPhase
{
    Initializing,
    Ready,
    Failed,
}

/// <summary>Where start-up is: initializing (database being reached and migrated), ready, or failed (a fatal
/// initialisation error such as an edited migration). Requests other than probes wait for <see cref="StartupPhase.Ready"/>.</summary>
public sealed class ServiceReadiness(TimeProvider clock)
{
    private readonly TaskCompletionSource _caughtUp = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile StartupPhase _phase = StartupPhase.Initializing;

    public DateTimeOffset StartedAt { get; } = clock.GetUtcNow();

    public StartupPhase Phase => _phase;

    public bool IsReady => _phase == StartupPhase.Ready;

    public void MarkReady() => _phase = StartupPhase.Ready;

    public void MarkFailed() => _phase = StartupPhase.Failed;

    /// <summary>Completes once the start-up tasks' work after ready has ended (see <see cref="IStartupTask.AfterReadyAsync"/>).</summary>
    public Task CaughtUp => _caughtUp.Task;

    public void MarkCaughtUp() => _caughtUp.TrySetResult();
}
