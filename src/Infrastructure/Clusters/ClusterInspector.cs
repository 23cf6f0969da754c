using System.Globalization;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Clusters;

/// <summary>Seed 002's cluster metadata: what the cluster is and runs.</summary>
public sealed record ClusterMetadata(
    string? Version,
    string? Platform,
    string? Provider,
    string? Region,
    int NodeCount,
    string CpuCapacity,
    string MemoryCapacity,
    IReadOnlyList<string> StorageClasses,
    IReadOnlyList<string> Namespaces,
    IReadOnlyList<string> Capabilities,
    DateTimeOffset LastUpdated);

public sealed record ComponentHealth(string Name, string Status, string? Message);

public sealed record ResourceUsage(decimal Used, decimal Capacity, decimal Percentage);

public sealed record ClusterResources(ResourceUsage Cpu, ResourceUsage Memory, ResourceUsage Storage);

/// <summary>Seed 002's cluster metrics: component health, CPU (millicores), memory and storage (bytes), counts.</summary>
public sealed record ClusterMetrics(
    string ClusterName,
    IReadOnlyList<ComponentHealth> Health,
    ClusterResources Resources,
    int NodeCount,
    int PodCount,
    DateTimeOffset LastUpdated,
    string UsageSource);

/// <summary>Reads a cluster's metadata and resource metrics through its client (KubeOrch's refresh and metrics).</summary>
public static class ClusterInspector
{
    private static readonly (string Group, string Capability)[] KnownGroups =
    [
        ("metrics.k8s.io", "metrics"),
        ("kustomize.toolkit.fluxcd.io", "flux"),
        ("helm.toolkit.fluxcd.io", "flux-helm"),
        ("networking.k8s.io", "ingress"),
        ("gateway.networking.k8s.io", "gateway-api"),
        ("snapshot.storage.k8s.io", "volume-snapshots"),
        ("autoscaling", "autoscaling"),
        ("cert-manager.io", "cert-manager"),
        ("monitoring.coreos.com", "prometheus-operator"),
        ("kubevirt.io", "kubevirt"),
    ];

    public static async Task<ClusterMetadata> ReadMetadataAsync(KubernetesClient client, TimeProvider clock, CancellationToken cancellationToken)
    {
        var version = await client.GetVersionAsync(cancellationToken);
        var nodes = (await client.ListAllAsync(KubernetesResourceType.Nodes, null, null, cancellationToken)).Items;
        var namespaces = await NamesAsync(client, KubernetesResourceType.Namespaces, cancellationToken);
        var storageClasses = await NamesAsync(client, KubernetesResourceType.StorageClasses, cancellationToken);
        var firstNode = nodes.FirstOrDefault();
        var labels = firstNode?["metadata"]?["labels"] as JsonObject;
        var cpu = nodes.Sum(node => KubernetesQuantity.TryParse(node["status"]?["capacity"]?["cpu"]?.ToString()) ?? 0);
        var memory = nodes.Sum(node => KubernetesQuantity.TryParse(node["status"]?["capacity"]?["memory"]?.ToString()) ?? 0);
        return new ClusterMetadata(
            version["gitVersion"]?.ToString(),
            labels?["kubernetes.io/os"]?.ToString() ?? version["platform"]?.ToString()?.Split('/')[0],
            Provider(firstNode),
            labels?["topology.kubernetes.io/region"]?.ToString() ?? labels?["failure-domain.beta.kubernetes.io/region"]?.ToString(),
            nodes.Count,
            cpu.ToString("0.###", CultureInfo.InvariantCulture),
            Bytes(memory),
            storageClasses,
            namespaces,
            await CapabilitiesAsync(client, cancellationToken),
            clock.GetUtcNow());
    }

    public static async Task<ClusterMetrics> ReadMetricsAsync(KubernetesClient client, string clusterName, TimeProvider clock, CancellationToken cancellationToken)
    {
        var nodes = (await client.ListAllAsync(KubernetesResourceType.Nodes, null, null, cancellationToken)).Items;
        var cpuCapacity = nodes.Sum(node => KubernetesQuantity.TryParse(node["status"]?["capacity"]?["cpu"]?.ToString()) ?? 0) * 1000;
        var memoryCapacity = nodes.Sum(node => KubernetesQuantity.TryParse(node["status"]?["capacity"]?["memory"]?.ToString()) ?? 0);
        var storageCapacity = nodes.Sum(node => KubernetesQuantity.TryParse(node["status"]?["capacity"]?["ephemeral-storage"]?.ToString()) ?? 0);

        decimal cpuUsed;
        decimal memoryUsed;
        string source;
        try
        {
            var usage = KubernetesClient.ItemsOf(await client.GetJsonAsync("apis/metrics.k8s.io/v1beta1/nodes", cancellationToken));
            cpuUsed = usage.Sum(node => KubernetesQuantity.TryParse(node["usage"]?["cpu"]?.ToString()) ?? 0) * 1000;
            memoryUsed = usage.Sum(node => KubernetesQuantity.TryParse(node["usage"]?["memory"]?.ToString()) ?? 0);
            source = "metrics-server";
        }
        catch (KubernetesApiException exception) when (exception.StatusCode is 404 or 403 or 503)
        {
            // No metrics-server: what the kubelets reserve (capacity minus allocatable) stands in for usage.
            cpuUsed = cpuCapacity - (nodes.Sum(node => KubernetesQuantity.TryParse(node["status"]?["allocatable"]?["cpu"]?.ToString()) ?? 0) * 1000);
            memoryUsed = memoryCapacity - nodes.Sum(node => KubernetesQuantity.TryParse(node["status"]?["allocatable"]?["memory"]?.ToString()) ?? 0);
            source = "capacity-minus-allocatable";
        }

        var claims = (await client.ListAllAsync(KubernetesResourceType.PersistentVolumeClaims, null, null, cancellationToken)).Items;
        var storageUsed = claims.Sum(claim => KubernetesQuantity.TryParse(claim["status"]?["capacity"]?["storage"]?.ToString() ?? claim["spec"]?["resources"]?["requests"]?["storage"]?.ToString()) ?? 0);
        var pods = await client.ListAsync(KubernetesResourceType.Pods, null, new ListOptions { Limit = 1 }, cancellationToken);
        var podCount = KubernetesClient.ItemsOf(pods).Count + (int)(pods["metadata"]?["remainingItemCount"]?.GetValue<long>() ?? 0);

        return new ClusterMetrics(
            clusterName,
            await HealthAsync(client, cancellationToken),
            new ClusterResources(Usage(cpuUsed, cpuCapacity), Usage(memoryUsed, memoryCapacity), Usage(storageUsed, storageCapacity)),
            nodes.Count,
            podCount,
            clock.GetUtcNow(),
            source);
    }

    private static async Task<IReadOnlyList<ComponentHealth>> HealthAsync(KubernetesClient client, CancellationToken cancellationToken)
    {
        var health = new List<ComponentHealth> { new("API Server", "healthy", null) };
        Dictionary<string, bool> readyz = [];
        try
        {
            foreach (var line in (await client.GetTextAsync("readyz?verbose", cancellationToken, 256 * 1024)).Split('\n'))
            {
                if (line.Length > 3 && line[0] == '[' && line[2] == ']')
                {
                    readyz[line[3..].Split(' ')[0]] = line[1] == '+';
                }
            }
        }
        catch (KubernetesApiException)
        {
            // Not every API server lets us read /readyz; the components then stay unknown.
        }

        Dictionary<string, (bool Healthy, string? Message)> components = [];
        try
        {
            foreach (var component in KubernetesClient.ItemsOf(await client.GetJsonAsync("api/v1/componentstatuses", cancellationToken)))
            {
                var condition = (component["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault();
                components[component["metadata"]?["name"]?.ToString() ?? string.Empty] = (condition?["status"]?.ToString() == "True", condition?["message"]?.ToString() ?? condition?["error"]?.ToString());
            }
        }
        catch (KubernetesApiException)
        {
            // componentstatuses is deprecated and may be gone.
        }

        health.Add(Component("Scheduler", components, "scheduler", readyz, null));
        health.Add(Component("Controller", components, "controller-manager", readyz, null));
        health.Add(Component("etcd", components, "etcd-0", readyz, "etcd"));
        return health;
    }

    private static ComponentHealth Component(string name, Dictionary<string, (bool Healthy, string? Message)> components, string componentName, Dictionary<string, bool> readyz, string? readyzCheck)
    {
        if (components.TryGetValue(componentName, out var status))
        {
            return new ComponentHealth(name, status.Healthy ? "healthy" : "unhealthy", status.Message);
        }

        if (readyzCheck is not null && readyz.TryGetValue(readyzCheck, out var ready))
        {
            return new ComponentHealth(name, ready ? "healthy" : "unhealthy", ready ? null : $"readyz check '{readyzCheck}' failed");
        }

        return new ComponentHealth(name, "unknown", null);
    }

    private static async Task<IReadOnlyList<string>> NamesAsync(KubernetesClient client, KubernetesResourceType type, CancellationToken cancellationToken)
    {
        try
        {
            return [.. (await client.ListAllAsync(type, null, null, cancellationToken)).Items.Select(item => item["metadata"]?["name"]?.ToString() ?? string.Empty).Order(StringComparer.Ordinal)];
        }
        catch (KubernetesApiException exception) when (exception.StatusCode is 403 or 404)
        {
            return [];
        }
    }

    private static async Task<IReadOnlyList<string>> CapabilitiesAsync(KubernetesClient client, CancellationToken cancellationToken)
    {
        try
        {
            var groups = (await client.GetJsonAsync("apis", cancellationToken))["groups"] as JsonArray ?? [];
            var names = groups.Select(group => group?["name"]?.ToString()).OfType<string>().ToHashSet(StringComparer.Ordinal);
            return [.. KnownGroups.Where(known => names.Contains(known.Group)).Select(known => known.Capability).Distinct()];
        }
        catch (KubernetesApiException)
        {
            return [];
        }
    }

    private static string? Provider(JsonObject? node)
    {
        var providerId = node?["spec"]?["providerID"]?.ToString();
        if (string.IsNullOrEmpty(providerId))
        {
            return node?["metadata"]?["labels"]?["node.kubernetes.io/instance-type"] is null ? null : "unknown";
        }

        var scheme = providerId.Split("://")[0];
        return scheme switch
        {
            "aws" => "aws",
            "gce" => "gcp",
            "azure" => "azure",
            "digitalocean" => "digitalocean",
            "kind" => "kind",
            "k3s" => "k3s",
            _ => scheme,
        };
    }

    private static ResourceUsage Usage(decimal used, decimal capacity) =>
        new(Math.Round(used, 0), Math.Round(capacity, 0), capacity <= 0 ? 0 : Math.Round(used / capacity * 100, 1));

    private static string Bytes(decimal bytes)
    {
        string[] units = ["B", "Ki", "Mi", "Gi", "Ti"];
        var unit = 0;
        while (bytes >= 1024 && unit < units.Length - 1)
        {
            bytes /= 1024;
            unit++;
        }

        return bytes.ToString("0.#", CultureInfo.InvariantCulture) + units[unit];
    }
}
