using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Kubernetes;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Capstan.Features.GitOps;

/// <summary>
/// Records reconciliation history and feeds the live event stream, whether or not anyone is listening (DESIGN §4).
/// Every 30 seconds it makes sure each registered cluster is watched by exactly one replica: a cluster's watch holds a
/// PostgreSQL advisory lock for as long as it runs, so another replica takes over when this one dies. A watch lists
/// then watches all 13 Flux kinds (relisting when the watch position expires). For every object it keeps the last seen
/// state in <c>gitops.resource_states</c>; a new object, a new revision or a Ready transition writes a history row
/// (with the spec snapshot rollback uses) and raises ADDED/MODIFIED/DELETED on the event hub topic
/// <c>gitops.cluster.&lt;id&gt;</c>, all in one transaction, so every replica's SSE and WebSocket subscribers get it.
/// </summary>
public sealed class FluxWatcher(IServiceProvider services, IServiceScopeFactory scopes, KubernetesClientOptions options, ILoggerFactory loggers)
    : RecurringJob(services, loggers.CreateLogger<FluxWatcher>())
{
    private readonly ILogger _log = loggers.CreateLogger<FluxWatcher>();

    public const string TopicPrefix = "gitops.cluster";

    private readonly ConcurrentDictionary<Guid, ClusterWatch> _watches = new();
    private readonly SemaphoreSlim _sync = new(1, 1);

    public override string Name => "flux-watcher";

    public override TimeSpan Interval => TimeSpan.FromSeconds(30);

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(5);

    /// <summary>The clusters this replica watches now.</summary>
    public IReadOnlyCollection<Guid> Watching => [.. _watches.Keys];

    public static string Topic(Guid clusterId) => $"{TopicPrefix}.{clusterId}";

    public override Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken) => SyncAsync(scope.GetRequiredService<ClusterDirectory>(), cancellationToken);

    /// <summary>Starts watches for clusters nobody watches yet and stops those of clusters that went away or whose
    /// credentials changed.</summary>
    public async Task SyncAsync(ClusterDirectory directory, CancellationToken cancellationToken)
    {
        await _sync.WaitAsync(cancellationToken);
        try
        {
            var clusters = (await directory.AllAsync(cancellationToken)).ToDictionary(cluster => cluster.Id);
            foreach (var (id, watch) in _watches)
            {
                if (!clusters.TryGetValue(id, out var cluster) || cluster.CredentialsVersion != watch.Cluster.CredentialsVersion || watch.Stopped
                    || !await watch.HoldsLockAsync(cancellationToken))
                {
                    _watches.TryRemove(id, out _);
                    await watch.StopAsync();
                }
            }

            foreach (var cluster in clusters.Values.Where(cluster => !_watches.ContainsKey(cluster.Id)))
            {
                if (await ClusterWatch.TryStartAsync(this, directory, cluster, cancellationToken) is { } started)
                {
                    _watches[cluster.Id] = started;
                }
            }
        }
        finally
        {
            _sync.Release();
        }
    }

    public async Task StopAllAsync()
    {
        foreach (var (id, watch) in _watches)
        {
            _watches.TryRemove(id, out _);
            await watch.StopAsync();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        await StopAllAsync();
    }

    /// <summary>Applies one observed state of an object (a watch event or a list item) in one transaction.</summary>
    internal async Task ApplyAsync(RegisteredCluster cluster, FluxResourceType type, string eventType, JsonObject obj, CancellationToken cancellationToken)
    {
        var ns = obj["metadata"]?["namespace"]?.ToString() ?? string.Empty;
        var name = obj["metadata"]?["name"]?.ToString() ?? string.Empty;
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DbSession>();
        var hub = scope.ServiceProvider.GetRequiredService<EventHub>();
        var clock = scope.ServiceProvider.GetRequiredService<TimeProvider>();
        var key = new { ClusterId = cluster.Id, Kind = type.Kind, Namespace = ns, Name = name };
        await db.BeginAsync(cancellationToken);
        try
        {
            var previous = await db.QuerySingleOrDefaultAsync<State>(
                """
                SELECT revision, ready_status, ready_reason, message_preview, suspended, resource_version
                FROM gitops.resource_states
                WHERE cluster_id = @ClusterId AND resource_type = @Kind AND namespace = @Namespace AND name = @Name
                FOR UPDATE
                """,
                key,
                cancellationToken);

            if (eventType == "DELETED")
            {
                if (previous is not null)
                {
                    await db.ExecuteAsync(
                        "DELETE FROM gitops.resource_states WHERE cluster_id = @ClusterId AND resource_type = @Kind AND namespace = @Namespace AND name = @Name", key, cancellationToken);
                    await hub.PublishAsync(db, Topic(cluster.Id), LiveEvent("DELETED", cluster, type, obj, clock, statusIncluded: false), cancellationToken);
                }

                await db.CommitAsync(cancellationToken);
                return;
            }

            var ready = FluxStatus.Ready(obj);
            var current = new State(
                FluxStatus.Revision(obj),
                ready?.Status,
                ready?.Reason,
                ready?.Message is { Length: > 100 } message ? message[..100] : ready?.Message,
                FluxStatus.IsSuspended(obj),
                obj["metadata"]?["resourceVersion"]?.ToString());
            if (previous is not null && previous.ResourceVersion == current.ResourceVersion)
            {
                await db.CommitAsync(cancellationToken);
                return;
            }

            await db.ExecuteAsync(
                """
                INSERT INTO gitops.resource_states
                    (cluster_id, resource_type, namespace, name, uid, resource_version, revision, ready_status, ready_reason, message_preview, suspended, observed_at)
                VALUES (@ClusterId, @Kind, @Namespace, @Name, @Uid, @ResourceVersion, @Revision, @ReadyStatus, @ReadyReason, @MessagePreview, @Suspended, now())
                ON CONFLICT (cluster_id, resource_type, namespace, name) DO UPDATE
                SET uid = EXCLUDED.uid, resource_version = EXCLUDED.resource_version, revision = EXCLUDED.revision, ready_status = EXCLUDED.ready_status,
                    ready_reason = EXCLUDED.ready_reason, message_preview = EXCLUDED.message_preview, suspended = EXCLUDED.suspended, observed_at = now()
                """,
                new
                {
                    ClusterId = cluster.Id,
                    Kind = type.Kind,
                    Namespace = ns,
                    Name = name,
                    Uid = obj["metadata"]?["uid"]?.ToString(),
                    current.ResourceVersion,
                    current.Revision,
                    current.ReadyStatus,
                    current.ReadyReason,
                    current.MessagePreview,
                    current.Suspended,
                },
                cancellationToken);

            var settled = current.ReadyStatus is "True" or "False";
            var transition = previous is null
                ? settled
                : settled && (current.Revision != previous.Revision || current.ReadyStatus != previous.ReadyStatus
                    || (current.ReadyStatus == "False" && current.ReadyReason != previous.ReadyReason));
            if (transition)
            {
                var now = clock.GetUtcNow();
                await FluxHistory.RecordAsync(
                    db,
                    new FluxHistoryEntry
                    {
                        ClusterId = cluster.Id,
                        Kind = type.Kind,
                        Namespace = ns,
                        Name = name,
                        Revision = current.Revision,
                        PreviousRevision = previous?.Revision,
                        Status = FluxHistory.StatusOf(ready),
                        Ready = ready,
                        CompletedAt = previous is null ? ready?.LastTransitionTime ?? now : now,
                        SpecSnapshot = obj["spec"]?.DeepClone(),
                        MetadataSnapshot = FluxHistory.MetadataSnapshot(obj),
                        ErrorMessage = current.ReadyStatus == "False" ? ready?.Message : null,
                        StalledReason = Stalled(obj),
                    },
                    cancellationToken);
            }

            var notable = previous is null
                || current.Revision != previous.Revision || current.ReadyStatus != previous.ReadyStatus || current.ReadyReason != previous.ReadyReason
                || current.MessagePreview != previous.MessagePreview || current.Suspended != previous.Suspended;
            if (notable)
            {
                await hub.PublishAsync(db, Topic(cluster.Id), LiveEvent(previous is null ? "ADDED" : "MODIFIED", cluster, type, obj, clock, statusIncluded: true), cancellationToken);
            }

            await db.CommitAsync(cancellationToken);
        }
        catch
        {
            await db.RollbackAsync();
            throw;
        }
    }

    /// <summary>After a (re)list: objects the state table still has but the cluster no longer does were deleted.</summary>
    internal async Task ForgetMissingAsync(RegisteredCluster cluster, FluxResourceType type, IReadOnlyList<JsonObject> items, CancellationToken cancellationToken)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DbSession>();
        var known = await db.QueryAsync<(string Namespace, string Name)>(
            "SELECT namespace, name FROM gitops.resource_states WHERE cluster_id = @ClusterId AND resource_type = @Kind",
            new { ClusterId = cluster.Id, type.Kind },
            cancellationToken);
        var present = items.Select(item => (item["metadata"]?["namespace"]?.ToString() ?? string.Empty, item["metadata"]?["name"]?.ToString() ?? string.Empty)).ToHashSet();
        foreach (var (ns, name) in known.Where(entry => !present.Contains(entry)))
        {
            var gone = new JsonObject { ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = ns } };
            await ApplyAsync(cluster, type, "DELETED", gone, cancellationToken);
        }
    }

    internal KubernetesClientOptions ClientOptions => options;

    internal IServiceScopeFactory Scopes => scopes;

    internal ILogger Log => _log;

    private static object LiveEvent(string kind, RegisteredCluster cluster, FluxResourceType type, JsonObject obj, TimeProvider clock, bool statusIncluded)
    {
        var metadata = new JsonObject
        {
            ["name"] = obj["metadata"]?["name"]?.DeepClone(),
            ["namespace"] = obj["metadata"]?["namespace"]?.DeepClone(),
            ["uid"] = obj["metadata"]?["uid"]?.DeepClone() ?? "unknown",
        };
        var resource = new JsonObject { ["metadata"] = metadata };
        if (statusIncluded)
        {
            resource["status"] = obj["status"]?.DeepClone();
        }

        return new JsonObject
        {
            ["type"] = kind,
            ["clusterId"] = cluster.Id.ToString(),
            ["clusterName"] = cluster.Name,
            ["resourceType"] = type.Kind,
            ["resourcePlural"] = type.Plural,
            ["resource"] = resource,
            ["timestamp"] = FluxActions.Timestamp(clock.GetUtcNow()),
        };
    }

    private static string? Stalled(JsonObject obj) =>
        (obj["status"]?["conditions"] as JsonArray)?.OfType<JsonObject>()
            .FirstOrDefault(condition => condition["type"]?.ToString() == "Stalled" && condition["status"]?.ToString() == "True")?["reason"]?.ToString();

    private sealed record State(string? Revision, string? ReadyStatus, string? ReadyReason, string? MessagePreview, bool Suspended, string? ResourceVersion);

    /// <summary>The watch of one cluster: its advisory lock, its own client, one loop per Flux kind.</summary>
    private sealed class ClusterWatch
    {
        private readonly CancellationTokenSource _stop = new();
        private readonly NpgsqlConnection _lock;
        private readonly KubernetesClient _client;
        private readonly List<Task> _loops = [];
        private int _stopped;

        private ClusterWatch(RegisteredCluster cluster, NpgsqlConnection lockConnection, KubernetesClient client)
        {
            Cluster = cluster;
            _lock = lockConnection;
            _client = client;
        }

        public RegisteredCluster Cluster { get; }

        public bool Stopped => _stop.IsCancellationRequested;

        public static async Task<ClusterWatch?> TryStartAsync(FluxWatcher owner, ClusterDirectory directory, RegisteredCluster cluster, CancellationToken cancellationToken)
        {
            ClusterConnection connection;
            try
            {
                connection = directory.ConnectionOf(cluster);
            }
            catch (Exception exception) when (exception is Infrastructure.Errors.ServiceUnavailableException)
            {
                owner.Log.LogWarning("Not watching cluster {Cluster}: {Reason}", cluster.Name, exception.Message);
                return null;
            }

            await using var scope = owner.Scopes.CreateAsyncScope();
            var lockConnection = await scope.ServiceProvider.GetRequiredService<DataSources>().Primary.OpenConnectionAsync(cancellationToken);
            var key = BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes("capstan-flux-watch:" + cluster.Id)), 0);
            if (!await lockConnection.ExecuteScalarAsync<bool>("SELECT pg_try_advisory_lock(@Key)", new { Key = key }))
            {
                await lockConnection.DisposeAsync();
                return null;
            }

            var watch = new ClusterWatch(cluster, lockConnection, new KubernetesClient(connection, cluster.Name, owner.ClientOptions));
            foreach (var type in FluxResourceTypes.All)
            {
                watch._loops.Add(Task.Run(() => watch.WatchKindAsync(owner, type, watch._stop.Token), CancellationToken.None));
            }

            owner.Log.LogInformation("Watching Flux objects on cluster {Cluster}", cluster.Name);
            return watch;
        }

        /// <summary>False when the lock's connection broke: the lock is gone and another replica may take over, so this
        /// watch must stop.</summary>
        public async Task<bool> HoldsLockAsync(CancellationToken cancellationToken)
        {
            try
            {
                return await _lock.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken)) == 1;
            }
            catch (Exception exception) when (exception is NpgsqlException or InvalidOperationException)
            {
                return false;
            }
        }

        public async Task StopAsync()
        {
            if (Interlocked.Exchange(ref _stopped, 1) == 1)
            {
                return;
            }

            await _stop.CancelAsync();
            await Task.WhenAll(_loops);
            _client.Dispose();
            await _lock.DisposeAsync();
            _stop.Dispose();
        }

        private async Task WatchKindAsync(FluxWatcher owner, FluxResourceType type, CancellationToken cancellationToken)
        {
            var backoff = TimeSpan.FromSeconds(1);
            while (!cancellationToken.IsCancellationRequested)
            {
                try
                {
                    var list = await _client.ListAllAsync(type.Resource, null, null, cancellationToken);
                    foreach (var item in list.Items)
                    {
                        await owner.ApplyAsync(Cluster, type, "ADDED", item, cancellationToken);
                    }

                    await owner.ForgetMissingAsync(Cluster, type, list.Items, cancellationToken);
                    backoff = TimeSpan.FromSeconds(1);
                    var version = list.ResourceVersion;
                    while (!cancellationToken.IsCancellationRequested)
                    {
                        var started = DateTime.UtcNow;
                        await foreach (var change in _client.WatchAsync(type.Resource, null, new WatchOptions { ResourceVersion = version, TimeoutSeconds = 290 }, cancellationToken))
                        {
                            if (change.Type != "BOOKMARK")
                            {
                                await owner.ApplyAsync(Cluster, type, change.Type, change.Object, cancellationToken);
                            }

                            version = change.ResourceVersion ?? version;
                        }

                        // The server ended the watch; go on from where it was, without spinning when it ends at once.
                        if (DateTime.UtcNow - started < TimeSpan.FromSeconds(1))
                        {
                            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
                        }
                    }
                }
                catch (KubernetesApiException exception) when (exception.IsExpired)
                {
                    // The position is gone: list again.
                }
                catch (KubernetesApiException exception) when (exception.StatusCode is 404 or 403)
                {
                    // The kind is not installed (or not readable) on this cluster: look again later.
                    owner.Log.LogDebug("{Kind} not watchable on {Cluster}: {Reason}", type.Kind, Cluster.Name, exception.Message);
                    await Delay(TimeSpan.FromMinutes(5), cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception exception)
                {
                    owner.Log.LogWarning("Watch of {Kind} on cluster {Cluster} failed ({Reason}); retrying in {Delay} s", type.Kind, Cluster.Name, exception.Message, backoff.TotalSeconds);
                    await Delay(backoff, cancellationToken);
                    backoff = TimeSpan.FromSeconds(Math.Min(backoff.TotalSeconds * 2, 60));
                }
            }
        }

        private static async Task Delay(TimeSpan delay, CancellationToken cancellationToken)
        {
            try
            {
                await Task.Delay(delay, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // Stopping.
            }
        }
    }
}
