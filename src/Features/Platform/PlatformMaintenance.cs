using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Data;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Platform;

/// <summary>Every ten minutes: drops rate-limit windows past their expiry and hub messages older than an hour (they
/// were delivered long ago).</summary>
public sealed class PlatformMaintenance(IServiceProvider services, ILogger<PlatformMaintenance> logger) : RecurringJob(services, logger)
{
    private const string Cleanup = """
        DELETE FROM platform.rate_limits WHERE expires_at < @Now;
        DELETE FROM platform.hub_messages WHERE created_at < @Now - interval '1 hour';
        """;

    public override string Name => "platform-maintenance";

    public override TimeSpan Interval => TimeSpan.FromMinutes(10);

    public override Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken) =>
        scope.GetRequiredService<DbSession>().ExecuteAsync(
            Cleanup, new { Now = scope.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime }, cancellationToken);
}
