using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Backups;

/// <summary>A backup file as the API lists it.</summary>
public sealed record BackupInfo(string Filename, long SizeBytes, DateTime CreatedAt, bool Encrypted);

/// <summary>
/// Database backups on local disk (<c>Backups:Directory</c>, default <c>.data/backups</c>): <c>pg_dump</c> in custom
/// format piped straight into the streaming envelope cipher, so no plaintext dump ever touches the disk; the newest
/// <c>Backups:MaxLocal</c> (10) are kept. Restore runs <c>pg_restore --clean --single-transaction</c>, so a failed
/// restore leaves the database as it was. Credentials reach the tools through libpq environment variables only.
/// </summary>
public sealed partial class BackupStore(IServiceProvider services, IConfiguration configuration, StreamingEnvelope envelope, TimeProvider clock)
{
    public const string AssociatedData = "capstan-backup";

    public string Directory => configuration["Backups:Directory"] is { Length: > 0 } configured
        ? configured
        : Path.Combine(LocalDataDirectory.Resolve(configuration), "backups");

    public int MaxLocal => configuration.GetValue("Backups:MaxLocal", 10);

    public IReadOnlyList<BackupInfo> List()
    {
        if (!System.IO.Directory.Exists(Directory))
        {
            return [];
        }

        return [.. new DirectoryInfo(Directory).GetFiles()
            .Where(file => FileName().IsMatch(file.Name))
            .Select(Describe)
            .OrderByDescending(backup => backup.CreatedAt)];
    }

    /// <summary>The backup named <paramref name="filename"/>: 400 for a name this store never makes (no paths), 404
    /// when it does not exist.</summary>
    public FileInfo Find(string? filename)
    {
        if (string.IsNullOrEmpty(filename) || !FileName().IsMatch(filename))
        {
            throw BadRequestException.ForField("filename", "filename must name a backup (capstan-backup-<timestamp>.dump.enc)");
        }

        var file = new FileInfo(Path.Combine(Directory, filename));
        return file.Exists ? file : throw new NotFoundException("Backup not found");
    }

    public BackupInfo Describe(FileInfo file) =>
        new(file.Name, file.Length, CreatedAtOf(file.Name) ?? file.CreationTimeUtc, file.Name.EndsWith(".enc", StringComparison.Ordinal));

    public async Task<BackupInfo> CreateAsync(CancellationToken cancellationToken)
    {
        var dump = PostgresBinaries.Find("pg_dump") ?? throw new ServiceUnavailableException("pg_dump is not installed (set CAPSTAN_PG_BIN)");
        System.IO.Directory.CreateDirectory(Directory);
        var now = clock.GetUtcNow().UtcDateTime;
        var name = $"capstan-backup-{now.ToString("yyyy-MM-dd'T'HH-mm-ss-fff'Z'", CultureInfo.InvariantCulture)}.dump.enc";
        var finalPath = Path.Combine(Directory, name);
        var temporary = finalPath + ".tmp";

        var info = Tool(dump, ["--format=custom", "--no-owner", "--no-privileges"]);
        try
        {
            using var process = Process.Start(info)!;
            var errors = process.StandardError.ReadToEndAsync(cancellationToken);
            await using (var output = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await envelope.EncryptAsync(process.StandardOutput.BaseStream, output, AssociatedData, cancellationToken);
            }

            await process.WaitForExitAsync(cancellationToken);
            if (process.ExitCode != 0)
            {
                throw new ServiceUnavailableException("The database could not be dumped: " + FirstLine(await errors));
            }

            File.Move(temporary, finalPath);
        }
        finally
        {
            File.Delete(temporary);
        }

        foreach (var stale in List().Skip(MaxLocal))
        {
            File.Delete(Path.Combine(Directory, stale.Filename));
        }

        return Describe(new FileInfo(finalPath));
    }

    /// <summary>Restores a plain custom-format dump file into the service's database, in one transaction.</summary>
    public async Task RestoreAsync(string dumpPath, CancellationToken cancellationToken)
    {
        var restore = PostgresBinaries.Find("pg_restore") ?? throw new ServiceUnavailableException("pg_restore is not installed (set CAPSTAN_PG_BIN)");
        // Only the database name goes on the command line; host, user and password travel in the environment.
        var database = new Npgsql.NpgsqlConnectionStringBuilder(services.GetRequiredService<DatabaseConnection>().Primary).Database ?? "postgres";
        var info = Tool(restore, ["--clean", "--if-exists", "--single-transaction", "--no-owner", "--no-privileges", "--exit-on-error", "--dbname", database, dumpPath]);
        using var process = Process.Start(info)!;
        var errors = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        if (process.ExitCode != 0)
        {
            throw new BadRequestException("The backup could not be restored; the database is unchanged: " + FirstLine(await errors));
        }
    }

    private ProcessStartInfo Tool(string executable, IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var connection = services.GetRequiredService<DatabaseConnection>().Primary;
        foreach (var (key, value) in PostgresBinaries.Environment(connection))
        {
            info.Environment[key] = value;
        }

        return info;
    }

    // Tool errors can name hosts; only the first line, trimmed, reaches the caller.
    private static string FirstLine(string text)
    {
        var line = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "unknown error";
        line = line.Replace("pg_dump: ", string.Empty, StringComparison.Ordinal).Replace("pg_restore: ", string.Empty, StringComparison.Ordinal);
        return line.Length > 200 ? line[..200] : line;
    }

    private static DateTime? CreatedAtOf(string name)
    {
        var match = FileName().Match(name);
        return match.Success && DateTime.TryParseExact(
            match.Groups["stamp"].Value, "yyyy-MM-dd'T'HH-mm-ss-fff'Z'", CultureInfo.InvariantCulture,
            DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var at)
            ? at
            : null;
    }

    [GeneratedRegex(@"^capstan-backup-(?<stamp>\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z)\.dump(\.enc)?$")]
    private static partial Regex FileName();
}
