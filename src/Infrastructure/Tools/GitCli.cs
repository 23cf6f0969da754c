using System.Diagnostics;
using System.Text;
using Capstan.Infrastructure.Errors;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Tools;

/// <summary>
/// The <c>git</c> command-line client (a configured dependency, <c>Delivery:Import:GitPath</c>, default <c>git</c> on the
/// PATH): shallow clones of one branch into a temporary directory, with a deadline, no prompts and no hooks.
/// Without git the callers answer 503 naming it. Repository URLs are https, http, ssh or git; local <c>file://</c> URLs
/// only when <c>Delivery:Import:AllowFileUrls</c> is set (tests), since they would read the server's own disk.
/// </summary>
public sealed class GitCli(IConfiguration configuration)
{
    private readonly string _path = configuration["Delivery:Import:GitPath"] is { Length: > 0 } path ? path : "git";
    private readonly bool _allowFileUrls = configuration.GetValue("Delivery:Import:AllowFileUrls", false);
    private readonly TimeSpan _timeout = TimeSpan.FromSeconds(configuration.GetValue("Delivery:Import:CloneTimeoutSeconds", 120));

    /// <summary>True when the git executable answers <c>git --version</c>.</summary>
    public async Task<bool> IsAvailableAsync(CancellationToken cancellationToken)
    {
        try
        {
            var (code, _, _) = await RunAsync(["--version"], null, TimeSpan.FromSeconds(10), cancellationToken);
            return code == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    /// <summary>Why a URL may not be cloned, or null when it may.</summary>
    public string? Refuse(string url)
    {
        var trimmed = url.Trim();
        if (trimmed.StartsWith('-') || trimmed.Any(char.IsControl) || trimmed.Contains(' ', StringComparison.Ordinal))
        {
            return "The repository URL is not a valid URL";
        }

        if (System.Text.RegularExpressions.Regex.IsMatch(trimmed, "^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\\s]+$"))
        {
            return null;
        }

        if (!Uri.TryCreate(trimmed, UriKind.Absolute, out var uri))
        {
            return "The repository URL is not a valid URL";
        }

        return uri.Scheme switch
        {
            "https" or "http" or "ssh" or "git" => null,
            "file" when _allowFileUrls => null,
            _ => $"Repository URLs must use https, http, ssh or git (not {uri.Scheme})",
        };
    }

    /// <summary>Clones <paramref name="branch"/> of <paramref name="url"/> (depth 1) into a new temporary directory and
    /// returns it with the checked-out commit; the caller deletes the directory.</summary>
    public async Task<(string Directory, string Commit)> CloneAsync(string url, string branch, CancellationToken cancellationToken)
    {
        if (!await IsAvailableAsync(cancellationToken))
        {
            throw new ServiceUnavailableException($"git is not installed (looked for '{_path}'): Git imports need the git client on the server");
        }

        var directory = Path.Combine(Path.GetTempPath(), "capstan-clone-" + Guid.NewGuid().ToString("N")[..12]);
        var (code, _, error) = await RunAsync(
            ["-c", "core.hooksPath=/dev/null", "-c", "protocol.file.allow=" + (_allowFileUrls ? "always" : "never"), "clone", "--depth", "1", "--single-branch", "--branch", branch, "--", url.Trim(), directory],
            null,
            _timeout,
            cancellationToken);
        if (code != 0)
        {
            TryDelete(directory);
            throw new BadRequestException($"Cloning the repository failed: {FirstLine(error)}");
        }

        var (_, commit, _) = await RunAsync(["-C", directory, "rev-parse", "HEAD"], null, TimeSpan.FromSeconds(30), cancellationToken);
        return (directory, commit.Trim());
    }

    public static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (IOException)
        {
            // A temporary directory left behind is harmless.
        }
        catch (UnauthorizedAccessException)
        {
            // Likewise.
        }
    }

    private static string FirstLine(string text)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault(l => l.StartsWith("fatal:", StringComparison.Ordinal))
            ?? text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault()
            ?? "git failed";
        return line.Length > 300 ? line[..300] : line;
    }

    private async Task<(int Code, string Output, string Error)> RunAsync(IEnumerable<string> arguments, string? workingDirectory, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(_path)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Path.GetTempPath(),
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment["GIT_TERMINAL_PROMPT"] = "0";
        start.Environment["GIT_ASKPASS"] = "/bin/false";
        start.Environment["GIT_SSH_COMMAND"] = "ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new";
        using var process = Process.Start(start) ?? throw new ServiceUnavailableException("git could not be started");
        process.StandardInput.Close();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        var output = process.StandardOutput.ReadToEndAsync(deadline.Token);
        var error = process.StandardError.ReadToEndAsync(deadline.Token);
        try
        {
            await process.WaitForExitAsync(deadline.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            if (cancellationToken.IsCancellationRequested)
            {
                throw;
            }

            throw new ServiceUnavailableException($"git did not finish within {timeout.TotalSeconds:0} seconds");
        }

        var builder = new StringBuilder(await error);
        return (process.ExitCode, await output, builder.ToString());
    }
}
