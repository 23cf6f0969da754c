using System.Text.Json;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Clusters;

/// <summary>
/// KubeOrch's health monitor, once per fleet every minute: each cluster not checked in the last 30 seconds is probed
/// (five at a time); its status and last check are stored, a <c>health_check</c> log entry is written when the status
/// changed, and connected clusters whose metadata is older than ten minutes get it refreshed. Connection logs older
/// than <c>Clusters:ConnectionLogRetentionHours</c> (default 168) are removed.
/// </summary>
public sealed class ClusterHealthMonitor(IServiceProvider services, IServiceScopeFactory scopes, ILogger<ClusterHealthMonitor> logger) : RecurringJob(services, logger)
{
    private static readonly TimeSpan CheckedRecently = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan MetadataStale = TimeSpan.FromMinutes(10);

    public override string Name => "cluster-health-monitor";

    public override TimeSpan Interval => TimeSpan.FromMinutes(1);

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(15);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var directory = scope.GetRequiredService<ClusterDirectory>();
        var clock = scope.GetRequiredService<TimeProvider>();
        var now = clock.GetUtcNow().UtcDateTime;
        var clusters = (await directory.AllAsync(cancellationToken)).ToDictionary(cluster => cluster.Id);
        var due = await db.QueryAsync<Due>(
            "SELECT id, status, (metadata->>'lastUpdated')::timestamptz AS metadata_updated FROM clusters.clusters WHERE last_check IS NULL OR last_check < @Before ORDER BY last_check NULLS FIRST",
            new { Before = now - CheckedRecently },
            cancellationToken);
        using var gate = new SemaphoreSlim(5);
        await Task.WhenAll(due.Select(async cluster =>
        {
            await gate.WaitAsync(cancellationToken);
            try
            {
                if (clusters.TryGetValue(cluster.Id, out var registered))
                {
                    await CheckAsync(registered, cluster, directory, cancellationToken);
                }
            }
            catch (Exception exception) when (!cancellationToken.IsCancellationRequested)
            {
                logger.LogWarning("Health check of cluster {ClusterId} failed: {Reason}", cluster.Id, exception.Message);
            }
            finally
            {
                gate.Release();
            }
        }));

        var retention = TimeSpan.FromHours(scope.GetRequiredService<IConfiguration>().GetValue("Clusters:ConnectionLogRetentionHours", 168));
        await db.ExecuteAsync("DELETE FROM clusters.connection_logs WHERE created_at < @Before", new { Before = now - retention }, cancellationToken);
    }

    private async Task CheckAsync(RegisteredCluster cluster, Due due, ClusterDirectory directory, CancellationToken cancellationToken)
    {
        // Each cluster writes on a scope (and connection) of its own, so checks run side by side.
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DbSession>();
        var clock = scope.ServiceProvider.GetRequiredService<TimeProvider>();

        var result = await scope.ServiceProvider.GetRequiredService<ClusterProbe>().ProbeAsync(() => directory.ConnectionOf(cluster), cluster.Name, cancellationToken);
        string? metadata = null;
        if (result.Connected && (due.MetadataUpdated is not { } updated || clock.GetUtcNow().UtcDateTime - updated > MetadataStale))
        {
            try
            {
                metadata = JsonSerializer.Serialize(await ClusterInspector.ReadMetadataAsync(directory.Connect(cluster), clock, cancellationToken), JsonSerializerOptions.Web);
            }
            catch (Exception exception) when (exception is KubernetesApiException or ServiceUnavailableException)
            {
                logger.LogInformation("Metadata of cluster {Cluster} not refreshed: {Reason}", cluster.Name, exception.Message);
            }
        }

        await db.ExecuteAsync(
            """
            UPDATE clusters.clusters
            SET status = @Status, last_check = @Now, last_error = @Error, version = COALESCE(@Version, version),
                metadata = COALESCE(CAST(@Metadata AS jsonb), metadata)
            WHERE id = @Id
            """,
            new { cluster.Id, result.Status, Now = result.CheckedAt.UtcDateTime, result.Error, result.Version, Metadata = metadata },
            cancellationToken);
        if (result.Status != due.Status)
        {
            await db.ExecuteAsync(
                """
                INSERT INTO clusters.connection_logs (id, cluster_id, action, success, error, details, created_at)
                VALUES (@LogId, @Id, 'health_check', @Connected, @Error, CAST(@Details AS jsonb), @Now)
                """,
                new { LogId = Guid.CreateVersion7(), cluster.Id, result.Connected, result.Error, Details = JsonSerializer.Serialize(new { from = due.Status, to = result.Status }), Now = result.CheckedAt.UtcDateTime },
                cancellationToken);
            logger.LogInformation("Cluster {Cluster} is now {Status} (was {Previous})", cluster.Name, result.Status, due.Status);
        }
    }

    private sealed record Due(Guid Id, string Status, DateTime? MetadataUpdated);
}
