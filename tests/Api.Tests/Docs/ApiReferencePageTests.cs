using System.Diagnostics;
using Capstan.Tests.Support;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Api.Tests.Docs;

/// <summary>The Scalar page renders in a real browser with the network closed: the bundle and the document come
/// from the service itself.</summary>
public sealed class ApiReferencePageTests
{
    [ChromiumFact]
    public async Task Scalar_page_lists_the_operations_in_headless_chromium()
    {
        Chromium.Executable.ShouldNotBeNull("CAPSTAN_REQUIRE_CHROMIUM=1 but no Chromium is installed");
        await using var factory = new ApiFactory(PostgresServer.CreateDatabase("docs"));
        factory.UseKestrel(0);
        factory.StartServer();
        await factory.WaitUntilReadyAsync();
        var address = factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var dom = await DumpDomAsync(address.TrimEnd('/') + "/api/docs");

        dom.ShouldContain("Capstan API");
        dom.ShouldContain("Liveness: the process answers HTTP");
        dom.ShouldContain("Prometheus metrics");
    }

    private static async Task<string> DumpDomAsync(string url)
    {
        var profile = Directory.CreateTempSubdirectory("capstan-chromium-");
        try
        {
            var info = new ProcessStartInfo(Chromium.Executable!)
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[]
            {
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-extensions",
                $"--user-data-dir={profile.FullName}", "--virtual-time-budget=20000", "--dump-dom", url,
            })
            {
                info.ArgumentList.Add(argument);
            }

            using var process = Process.Start(info)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
            await process.WaitForExitAsync(timeout.Token);
            var dom = await stdout;
            dom.ShouldNotBeNullOrWhiteSpace(await stderr);
            return dom;
        }
        finally
        {
            profile.Delete(recursive: true);
        }
    }
}
