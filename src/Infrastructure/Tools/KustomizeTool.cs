using System.ComponentModel;
using System.Diagnostics;
using System.Text;
using Capstan.Infrastructure.Errors;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Tools;

/// <summary>
/// Builds a kustomization directory with <c>kubectl kustomize &lt;dir&gt;</c> (or a standalone <c>kustomize build</c>),
/// a configured dependency of the gitops diff: <c>Flux:Kustomize:Path</c> names the executable (default
/// <c>kubectl</c> on PATH). Runs without a shell and with a deadline. Missing tool or timeout: 503 naming it; a failing
/// build: 409 with kustomize's own message.
/// </summary>
public sealed class KustomizeTool(IConfiguration configuration)
{
    private const int MaxOutput = 64 * 1024 * 1024;

    public string Command => configuration["Flux:Kustomize:Path"] is { Length: > 0 } path ? path : "kubectl";

    public bool IsAvailable => Resolve() is not null;

    /// <summary>503 naming the tool when it is not installed.</summary>
    public void EnsureAvailable()
    {
        if (!IsAvailable)
        {
            throw Missing();
        }
    }

    /// <summary>The rendered multi-document YAML of <paramref name="directory"/>.</summary>
    public async Task<string> BuildAsync(string directory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var executable = Resolve() ?? throw Missing();
        var standalone = Path.GetFileName(executable).StartsWith("kustomize", StringComparison.Ordinal);
        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        info.ArgumentList.Add(standalone ? "build" : "kustomize");
        info.ArgumentList.Add(directory);

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        Process process;
        try
        {
            process = Process.Start(info)!;
        }
        catch (Win32Exception)
        {
            throw Missing();
        }

        using (process)
        {
            var output = ReadBoundedAsync(process.StandardOutput, deadline.Token);
            var errors = ReadBoundedAsync(process.StandardError, deadline.Token);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
                var text = await output;
                var failure = await errors;
                if (process.ExitCode != 0)
                {
                    var message = failure.Trim() is { Length: > 0 } said ? said : $"exit code {process.ExitCode}";
                    throw new ConflictException($"kustomize build failed: {(message.Length > 1000 ? message[..1000] + "…" : message)}");
                }

                return text;
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                process.Kill(entireProcessTree: true);
                throw new ServiceUnavailableException(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{Path.GetFileName(executable)} kustomize did not finish within {timeout.TotalSeconds:0} s"));
            }
        }
    }

    private ServiceUnavailableException Missing() =>
        new($"{Path.GetFileName(Command)} is not installed: the Kustomization diff needs `kubectl kustomize` (or `kustomize build`); install it or set Flux:Kustomize:Path");

    private static async Task<string> ReadBoundedAsync(StreamReader reader, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var buffer = new char[8192];
        int read;
        while ((read = await reader.ReadAsync(buffer, cancellationToken)) > 0)
        {
            if (text.Length + read > MaxOutput)
            {
                throw new ConflictException("kustomize build produced more than 64 MB of output");
            }

            text.Append(buffer, 0, read);
        }

        return text.ToString();
    }

    private string? Resolve()
    {
        var configured = Command;
        if (configured.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(configured) ? configured : null;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, configured))
            .FirstOrDefault(File.Exists);
    }
}
