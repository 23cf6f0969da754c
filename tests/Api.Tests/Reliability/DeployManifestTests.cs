using System.Diagnostics;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Tests.Support;
using Capstan.Tests.Support.Kubernetes;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Reliability;

/// <summary>
/// deploy/: the Kubernetes manifests. Checked structurally here (three replicas, the probes on /api/v1/ready and
/// /api/v1/health, resource requests, a PodDisruptionBudget and a Service selecting the Deployment's pods, settings
/// from the ConfigMap, credentials only by Secret reference, a migration Job running <c>migrate</c>), and passed to
/// <c>kubectl apply --dry-run=client --validate=false</c> against the fake Kubernetes API server (kubectl's client dry
/// run still asks a server which kinds exist). kubectl comes from <c>CAPSTAN_KUBECTL</c> or PATH (Debian's
/// <c>kubernetes-client</c> package; .ci/run installs it and sets <c>CAPSTAN_REQUIRE_KUBECTL=1</c>); without it, and
/// not required, only the structural checks run and the test says so.
/// </summary>
public sealed class DeployManifestTests(ITestOutputHelper output)
{
    private static readonly string DeployDirectory = Path.Combine(RepositoryFiles.Root, "deploy");

    [Fact]
    public void Manifests_describe_a_replicated_probed_budgeted_deployment()
    {
        var objects = Directory.GetFiles(DeployDirectory, "*.yaml").Order()
            .SelectMany(file => YamlJson.ParseAll(File.ReadAllText(file)).OfType<JsonObject>())
            .ToList();
        JsonObject Single(string kind) => objects.Single(item => item["kind"]!.GetValue<string>() == kind);

        objects.Select(item => item["kind"]!.GetValue<string>()).Order()
            .ShouldBe(["ConfigMap", "Deployment", "Job", "Namespace", "PodDisruptionBudget", "Service", "ServiceAccount"]);
        objects.Where(item => item["kind"]!.GetValue<string>() != "Namespace").ShouldAllBe(item => item["metadata"]!["namespace"]!.GetValue<string>() == "capstan");
        objects.ShouldNotContain(item => item["kind"]!.GetValue<string>() == "Secret", "credentials are referenced, never committed");

        var deployment = Single("Deployment");
        deployment["spec"]!["replicas"]!.GetValue<long>().ShouldBe(3);
        var podLabels = deployment["spec"]!["template"]!["metadata"]!["labels"]!.AsObject();
        Matches(deployment["spec"]!["selector"]!["matchLabels"]!.AsObject(), podLabels).ShouldBeTrue("the Deployment selects its pods");
        var container = deployment["spec"]!["template"]!["spec"]!["containers"]![0]!;
        container["readinessProbe"]!["httpGet"]!["path"]!.GetValue<string>().ShouldBe("/api/v1/ready");
        container["livenessProbe"]!["httpGet"]!["path"]!.GetValue<string>().ShouldBe("/api/v1/health");
        container["resources"]!["requests"]!["cpu"].ShouldNotBeNull();
        container["resources"]!["requests"]!["memory"].ShouldNotBeNull();
        container["envFrom"]![0]!["configMapRef"]!["name"]!.GetValue<string>().ShouldBe(Single("ConfigMap")["metadata"]!["name"]!.GetValue<string>());
        var secretEnv = container["env"]!.AsArray().Where(env => env!["valueFrom"]?["secretKeyRef"] is not null).Select(env => env!["name"]!.GetValue<string>()).ToList();
        secretEnv.ShouldContain("ConnectionStrings__Default");
        secretEnv.ShouldContain("CAPSTAN_MASTER_KEY");
        container["env"]!.AsArray().ShouldAllBe(env => env!["value"] == null, "no literal values for credentials");

        var budget = Single("PodDisruptionBudget");
        budget["apiVersion"]!.GetValue<string>().ShouldBe("policy/v1");
        Matches(budget["spec"]!["selector"]!["matchLabels"]!.AsObject(), podLabels).ShouldBeTrue("the budget covers the API pods");
        budget["spec"]!["minAvailable"]!.GetValue<long>().ShouldBeInRange(1, 2);

        var service = Single("Service");
        Matches(service["spec"]!["selector"]!.AsObject(), podLabels).ShouldBeTrue("the Service routes to the API pods");

        var job = Single("Job");
        var migrate = job["spec"]!["template"]!["spec"]!["containers"]![0]!;
        migrate["args"]!.AsArray().Select(arg => arg!.GetValue<string>()).ShouldBe(["migrate"]);
        migrate["image"]!.GetValue<string>().ShouldBe(container["image"]!.GetValue<string>());
        Single("ConfigMap")["data"]!["Database__MigrateOnStartup"]!.GetValue<string>().ShouldBe("false");
        output.WriteLine($"deploy/: {objects.Count} objects checked structurally");
    }

    [KubectlFact]
    public async Task Kubectl_client_dry_run_accepts_every_manifest()
    {
        var kubectl = Kubectl.Executable.ShouldNotBeNull("kubectl is required here (Debian package kubernetes-client)");

        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { SeedFixtures = false });
        api.Store.RegisterType(new FakeResourceType("policy", "v1", "poddisruptionbudgets", "PodDisruptionBudget"));
        var kubeconfig = Path.Combine(Path.GetTempPath(), $"capstan-deploy-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(kubeconfig, api.Kubeconfig());
        try
        {
            var start = new ProcessStartInfo(kubectl, ["apply", "--dry-run=client", "--validate=false", "-f", DeployDirectory])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                Environment = { ["KUBECONFIG"] = kubeconfig, ["HOME"] = Path.GetTempPath() },
            };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
            await process.WaitForExitAsync(timeout.Token);
            var text = await stdout;
            output.WriteLine(text + await stderr);
            process.ExitCode.ShouldBe(0, await stderr);
            text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Count(line => line.Contains("(dry run)", StringComparison.Ordinal)).ShouldBe(7);
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }

    private static bool Matches(JsonObject selector, JsonObject labels) =>
        selector.All(pair => labels[pair.Key]?.GetValue<string>() == pair.Value!.GetValue<string>());
}
