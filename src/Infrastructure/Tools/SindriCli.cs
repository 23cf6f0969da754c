using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Tools;

/// <summary>
/// The <c>sindri</c> command-line tool, a configured dependency of the fleet area (<c>Sindri:CliPath</c>, default
/// <c>sindri</c> on PATH). Commands run without a shell, with a deadline; their JSON output is parsed. Callers decide
/// whether a missing CLI is a 503 or just "unavailable".
/// </summary>
public sealed class SindriCli(IConfiguration configuration, ILogger<SindriCli> logger)
{
    public string Path => configuration["Sindri:CliPath"] is { Length: > 0 } path ? path : "sindri";

    public bool IsAvailable => Resolve() is not null;

    /// <summary>Runs <c>sindri &lt;arguments&gt;</c> and parses its standard output as JSON; null when the CLI is
    /// missing, fails, times out or prints something else.</summary>
    public async Task<JsonDocument?> RunJsonAsync(IReadOnlyList<string> arguments, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var executable = Resolve();
        if (executable is null)
        {
            return null;
        }

        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            using var process = Process.Start(info)!;
            var output = process.StandardOutput.ReadToEndAsync(deadline.Token);
            var errors = process.StandardError.ReadToEndAsync(deadline.Token);
            try
            {
                await process.WaitForExitAsync(deadline.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                throw;
            }

            if (process.ExitCode != 0)
            {
                logger.LogWarning("sindri {Command} exited with {ExitCode}: {Errors}", arguments.FirstOrDefault(), process.ExitCode, Truncate(await errors));
                return null;
            }

            return JsonDocument.Parse(await output);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            logger.LogWarning("sindri {Command} did not finish within {Timeout} s", arguments.FirstOrDefault(), timeout.TotalSeconds);
            return null;
        }
        catch (JsonException)
        {
            logger.LogWarning("sindri {Command} did not print JSON", arguments.FirstOrDefault());
            return null;
        }
    }

    /// <summary>Runs <c>sindri &lt;arguments&gt;</c> with extra environment variables and returns its exit code and
    /// output (each stream capped at 1 MiB); null when the CLI is missing. A run past <paramref name="timeout"/> is killed
    /// and reported with exit code -1.</summary>
    public async Task<SindriCliResult?> RunAsync(
        IReadOnlyList<string> arguments, IReadOnlyDictionary<string, string>? environment, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var executable = Resolve();
        if (executable is null)
        {
            return null;
        }

        var info = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var errors = process.StandardError.ReadToEndAsync(CancellationToken.None);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            logger.LogWarning("sindri {Command} did not finish within {Timeout} s", arguments.FirstOrDefault(), timeout.TotalSeconds);
            return new SindriCliResult(-1, Cap(await output), Cap(await errors + $"\nsindri did not finish within {timeout.TotalSeconds:0} s"));
        }

        return new SindriCliResult(process.ExitCode, Cap(await output), Cap(await errors));
    }

    private static string Cap(string text) => text.Length > (1 << 20) ? text[..(1 << 20)] : text;

    private string? Resolve()
    {
        var configured = Path;
        if (configured.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(configured) ? configured : null;
        }

        return (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => System.IO.Path.Combine(directory, configured))
            .FirstOrDefault(File.Exists);
    }

    private static string Truncate(string text) => text.Length > 300 ? text[..300] : text;
}

/// <summary>How a <c>sindri</c> run ended: its exit code and what it printed.</summary>
public sealed record SindriCliResult(int ExitCode, string Output, string Errors);
