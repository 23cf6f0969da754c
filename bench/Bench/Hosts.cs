using System.Net;
using System.Runtime.InteropServices;
using System.Text.Json.Nodes;
using Capstan.Tests.Support.Kubernetes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Capstan.Bench;

/// <summary>Command-line options as <c>--key value</c> pairs.</summary>
public sealed class Options(Dictionary<string, string> values)
{
    public static Options Parse(IEnumerable<string> args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        string? key = null;
        foreach (var arg in args)
        {
            if (arg.StartsWith("--", StringComparison.Ordinal))
            {
                if (key is not null)
                {
                    values[key] = "true";
                }

                key = arg[2..];
            }
            else if (key is not null)
            {
                values[key] = arg;
                key = null;
            }
        }

        if (key is not null)
        {
            values[key] = "true";
        }

        return new Options(values);
    }

    public string Get(string key, string fallback) => values.TryGetValue(key, out var value) ? value : fallback;

    public string Required(string key) => values.TryGetValue(key, out var value) ? value : throw new ArgumentException($"--{key} is required");

    public int Int(string key, int fallback) => values.TryGetValue(key, out var value) ? int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : fallback;

    public double Double(string key, double fallback) =>
        values.TryGetValue(key, out var value) ? double.Parse(value, System.Globalization.CultureInfo.InvariantCulture) : fallback;
}

/// <summary>The framework ceiling: Kestrel answering a small JSON document, with no middleware, auth or database.</summary>
public static class BareKestrel
{
    public sealed record Payload(Guid Id, string Name, string Provider, string Status, DateTime CreatedAt, string[] Extensions);

    public static async Task<int> RunAsync(Options options)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, options.Int("port", 5099)));
        var app = builder.Build();
        app.MapGet("/bare/{id}", (Guid id) => TypedResults.Ok(new Payload(id, "bench-000001", "docker", "RUNNING", DateTime.UtcNow, ["node", "python"])));
        await app.RunAsync();
        return 0;
    }
}

/// <summary>The fake Kubernetes API server of tests/Support, loaded with N Flux Kustomizations across namespaces.</summary>
public static class KubeHost
{
    public static async Task<int> RunAsync(Options options)
    {
        await using var api = await FakeKubernetesApi.StartAsync(new FakeKubernetesOptions { SeedFixtures = true });
        var count = options.Int("objects", 1000);
        for (var n = 1; n <= count; n++)
        {
            api.Store.Put(new JsonObject
            {
                ["apiVersion"] = "kustomize.toolkit.fluxcd.io/v1",
                ["kind"] = "Kustomization",
                ["metadata"] = new JsonObject
                {
                    ["name"] = $"app-{n:D4}",
                    ["namespace"] = $"team-{n % 20:D2}",
                    ["labels"] = new JsonObject { ["app.kubernetes.io/part-of"] = $"suite-{n % 7}" },
                },
                ["spec"] = new JsonObject
                {
                    ["interval"] = "10m",
                    ["path"] = $"./apps/app-{n:D4}",
                    ["prune"] = true,
                    ["sourceRef"] = new JsonObject { ["kind"] = "GitRepository", ["name"] = "platform", ["namespace"] = "flux-system" },
                },
                ["status"] = new JsonObject
                {
                    ["observedGeneration"] = 1,
                    ["lastAppliedRevision"] = $"main@sha1:{n:x8}",
                    ["conditions"] = new JsonArray
                    {
                        new JsonObject
                        {
                            ["type"] = "Ready",
                            ["status"] = n % 10 == 0 ? "False" : "True",
                            ["reason"] = n % 10 == 0 ? "ReconciliationFailed" : "ReconciliationSucceeded",
                            ["message"] = n % 10 == 0 ? "kustomize build failed" : $"Applied revision: main@sha1:{n:x8}",
                            ["lastTransitionTime"] = "2026-11-01T10:00:00Z",
                        },
                    },
                },
            });
        }

        await File.WriteAllTextAsync(options.Required("out"), api.Kubeconfig());
        await File.WriteAllTextAsync(options.Required("out") + ".url", api.BaseUrl);
        Console.WriteLine($"fake Kubernetes API at {api.BaseUrl} with {count} Kustomizations");
        // The fake server's own host takes SIGTERM for itself (it stops, the process stays), so the tool registers too:
        // bench/run's cleanup must end this process.
        var stop = new TaskCompletionSource();
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, signal => stop.TrySetResult());
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, signal =>
        {
            signal.Cancel = true;
            stop.TrySetResult();
        });
        await stop.Task;
        return 0;
    }
}
