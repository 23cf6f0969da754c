using System.Diagnostics;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Clusters;

/// <summary>One step of a connection test (Gyre's check list).</summary>
public sealed record ClusterCheck(string Name, bool Passed, string Message, long DurationMs);

/// <summary>What a connection test found: whether the cluster answered and accepted the credentials, the status to
/// store (<c>connected</c>, <c>disconnected</c> when unreachable, <c>error</c> otherwise), its version and node
/// count, and each check.</summary>
public sealed record ClusterProbeResult(
    bool Connected,
    string Status,
    string? Version,
    string? Platform,
    int? NodeCount,
    string? Error,
    IReadOnlyList<ClusterCheck> Checks,
    DateTimeOffset CheckedAt)
{
    [JsonIgnore]
    public bool Unreachable => Status == "disconnected";
}

/// <summary>
/// Tests a cluster connection the way a person would: are the credentials usable, does the API server answer
/// <c>/version</c>, does it accept who we are, may we list namespaces, how many nodes. Uses a client of its own with
/// short deadlines (never the pool), so a dead cluster costs seconds, not minutes.
/// </summary>
public sealed class ClusterProbe(KubernetesClientOptions options, TimeProvider clock)
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    public async Task<ClusterProbeResult> ProbeAsync(Func<ClusterConnection> connect, string name, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var checks = new List<ClusterCheck>();
        var deadline = timeout ?? DefaultTimeout;
        var probeOptions = new KubernetesClientOptions
        {
            GetTimeout = deadline,
            ListTimeout = deadline,
            WriteTimeout = deadline,
            LogsTimeout = deadline,
            ConnectTimeout = deadline,
            UserAgent = options.UserAgent,
        };

        var watch = Stopwatch.StartNew();
        KubernetesClient client;
        try
        {
            client = new KubernetesClient(connect(), name, probeOptions);
            checks.Add(new ClusterCheck("Credentials", true, "The credentials are complete and well-formed", watch.ElapsedMilliseconds));
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or ServiceUnavailableException)
        {
            checks.Add(new ClusterCheck("Credentials", false, exception.Message, watch.ElapsedMilliseconds));
            return Result(false, "error", null, null, null, exception.Message, checks);
        }

        using (client)
        {
            string? version;
            string? platform;
            watch.Restart();
            try
            {
                var info = await client.GetVersionAsync(cancellationToken);
                version = info["gitVersion"]?.ToString();
                platform = info["platform"]?.ToString();
                checks.Add(new ClusterCheck("API Server Reachability", true, $"{client.Server.GetLeftPart(UriPartial.Authority)} answered", watch.ElapsedMilliseconds));
                checks.Add(new ClusterCheck("Kubernetes Version", version is not null, version ?? "No version reported", 0));
            }
            catch (KubernetesApiException exception)
            {
                var unreachable = exception.KubernetesStatusCode == 0 || (exception.StatusCode == 503 && exception.KubernetesStatusCode >= 500);
                checks.Add(new ClusterCheck(exception.KubernetesStatusCode == 401 ? "Authentication" : "API Server Reachability", false, exception.Message, watch.ElapsedMilliseconds));
                return Result(false, unreachable ? "disconnected" : "error", null, null, null, exception.Message, checks);
            }

            watch.Restart();
            try
            {
                await client.ListAsync(KubernetesResourceType.Namespaces, null, new ListOptions { Limit = 1 }, cancellationToken);
                checks.Add(new ClusterCheck("Authentication", true, "The API server accepted the credentials", watch.ElapsedMilliseconds));
                checks.Add(new ClusterCheck("Authorization", true, "Namespaces can be listed", 0));
            }
            catch (KubernetesApiException exception) when (exception.KubernetesStatusCode == 403)
            {
                checks.Add(new ClusterCheck("Authentication", true, "The API server accepted the credentials", watch.ElapsedMilliseconds));
                checks.Add(new ClusterCheck("Authorization", false, exception.Message, 0));
            }
            catch (KubernetesApiException exception)
            {
                checks.Add(new ClusterCheck("Authentication", false, exception.Message, watch.ElapsedMilliseconds));
                return Result(false, exception.KubernetesStatusCode == 0 ? "disconnected" : "error", version, platform, null, exception.Message, checks);
            }

            int? nodes = null;
            try
            {
                nodes = KubernetesClient.ItemsOf(await client.ListAsync(KubernetesResourceType.Nodes, null, new ListOptions { Limit = 500 }, cancellationToken)).Count;
            }
            catch (KubernetesApiException)
            {
                // Listing nodes needs a cluster-wide permission the credentials may lack; the count is optional.
            }

            return Result(true, "connected", version, platform, nodes, null, checks);
        }
    }

    private ClusterProbeResult Result(bool connected, string status, string? version, string? platform, int? nodes, string? error, List<ClusterCheck> checks) =>
        new(connected, status, version, platform, nodes, error, checks, clock.GetUtcNow());
}
