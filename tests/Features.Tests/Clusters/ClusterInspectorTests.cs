using System.Text.Json.Nodes;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Tests.Support.Kubernetes;

namespace Capstan.Features.Tests.Clusters;

public sealed class ClusterInspectorTests
{
    [Fact]
    public async Task Metrics_use_metrics_server_usage_when_it_is_there()
    {
        await using var api = await FakeKubernetesApi.StartAsync();
        api.Store.RegisterType(FakeResourceTypes.NodeMetrics);
        foreach (var (node, cpu, memory) in new[] { ("worker-1", "250m", "1Gi"), ("worker-2", "750m", "3Gi") })
        {
            api.Store.Put(new JsonObject
            {
                ["apiVersion"] = "metrics.k8s.io/v1beta1",
                ["kind"] = "NodeMetrics",
                ["metadata"] = new JsonObject { ["name"] = node },
                ["usage"] = new JsonObject { ["cpu"] = cpu, ["memory"] = memory },
            });
        }

        using var client = new KubernetesClient(KubeConfig.Parse(api.Kubeconfig()).ToConnection(), "m");

        var metrics = await ClusterInspector.ReadMetricsAsync(client, "m", TimeProvider.System, CancellationToken.None);

        metrics.UsageSource.ShouldBe("metrics-server");
        metrics.Resources.Cpu.ShouldBe(new ResourceUsage(1000, 4000, 25));
        metrics.Resources.Memory.Used.ShouldBe(4m * 1024 * 1024 * 1024);
        metrics.NodeCount.ShouldBe(2);
    }

    [Fact]
    public async Task Metadata_reads_version_nodes_and_capabilities()
    {
        await using var api = await FakeKubernetesApi.StartAsync();
        using var client = new KubernetesClient(KubeConfig.Parse(api.Kubeconfig()).ToConnection(), "m");

        var metadata = await ClusterInspector.ReadMetadataAsync(client, TimeProvider.System, CancellationToken.None);

        metadata.Version.ShouldBe("v1.30.4");
        metadata.Platform.ShouldBe("linux");
        metadata.Provider.ShouldBe("aws");
        metadata.NodeCount.ShouldBe(2);
        metadata.Capabilities.ShouldBe(["flux", "flux-helm", "ingress", "autoscaling"]);
    }
}
