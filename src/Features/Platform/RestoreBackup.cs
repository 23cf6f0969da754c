using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Backups;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Platform;

/// <summary>
/// <c>POST /api/v1/admin/backups/restore</c> (seed 000), multipart field <c>file</c> (≤ 500 MB): a backup this service
/// made (<c>.dump.enc</c>, decrypted here) or a plain custom-format dump (<c>.dump</c>). The upload must be a
/// PostgreSQL custom-format dump (400 otherwise). A safety backup is taken first; the restore runs in one transaction
/// (a failure changes nothing), then this build's newer migrations are applied.
/// </summary>
public static class RestoreBackup
{
    public const long MaxUploadBytes = 500L << 20;

    private static readonly string[] AcceptedContentTypes = ["", "application/octet-stream", "application/x-postgresql-dump"];

    public sealed record Command(IFormFile? File) : ICommand<Response>;

    public sealed record Response(bool Success, string Message, BackupInfo Backup, BackupInfo SafetyBackup);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.File).NotNull().WithMessage("A backup file is required in the multipart field 'file'");
            RuleFor(command => command.File!.FileName)
                .Must(name => name.EndsWith(".dump", StringComparison.Ordinal) || name.EndsWith(".dump.enc", StringComparison.Ordinal))
                .OverridePropertyName("file").WithMessage("The file must be a .dump or .dump.enc backup")
                .When(command => command.File is not null);
            RuleFor(command => command.File!.ContentType)
                .Must(type => AcceptedContentTypes.Contains(type ?? string.Empty, StringComparer.OrdinalIgnoreCase))
                .OverridePropertyName("file").WithMessage("The file must be sent as application/octet-stream")
                .When(command => command.File is not null);
        }
    }

    internal sealed class Handler(
        DbSession db,
        BackupStore store,
        StreamingEnvelope envelope,
        Migrator migrator,
        DataSources dataSources,
        AuditTrail audit,
        TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string TryLock = "SELECT pg_try_advisory_xact_lock(@Key)";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            if (!await db.ExecuteScalarAsync<bool>(TryLock, new { Key = CreateBackup.LockKey }, cancellationToken))
            {
                throw new ConflictException("A backup or restore is already running");
            }

            var dumpPath = Path.Combine(Path.GetTempPath(), $"capstan-restore-{Guid.NewGuid():N}.dump");
            try
            {
                await WritePlainDumpAsync(command.File!, dumpPath, cancellationToken);
                var safety = await store.CreateAsync(cancellationToken);
                await store.RestoreAsync(dumpPath, cancellationToken);
                await migrator.MigrateAsync(cancellationToken);
                // Tables were recreated: pooled connections must not keep plans or type data of the old ones.
                dataSources.Primary.Clear();
                audit.Record("backup.restore", "backup", command.File!.FileName, command.File.FileName, new { safety_backup = safety.Filename });
                return new Response(
                    true,
                    "Database restored successfully.",
                    new BackupInfo("restored-database", new FileInfo(dumpPath).Length, clock.GetUtcNow().UtcDateTime, false),
                    safety);
            }
            finally
            {
                File.Delete(dumpPath);
            }
        }

        private async Task WritePlainDumpAsync(IFormFile file, string dumpPath, CancellationToken cancellationToken)
        {
            await using (var upload = file.OpenReadStream())
            await using (var output = File.Create(dumpPath))
            {
                var head = new byte[8];
                var read = await upload.ReadAtLeastAsync(head, head.Length, throwOnEndOfStream: false, cancellationToken);
                if (StreamingEnvelope.LooksEncrypted(head.AsSpan(0, read)))
                {
                    using var rest = new ConcatenatedStream(head.AsMemory(0, read), upload);
                    try
                    {
                        await envelope.DecryptAsync(rest, output, BackupStore.AssociatedData, cancellationToken);
                    }
                    catch (System.Security.Cryptography.CryptographicException)
                    {
                        throw BadRequestException.ForField("file", "The backup could not be decrypted: it is damaged or was made with another master key");
                    }
                }
                else
                {
                    await output.WriteAsync(head.AsMemory(0, read), cancellationToken);
                    await upload.CopyToAsync(output, cancellationToken);
                }
            }

            var magic = new byte[5];
            await using (var check = File.OpenRead(dumpPath))
            {
                if (await check.ReadAtLeastAsync(magic, 5, throwOnEndOfStream: false, cancellationToken) < 5 || !"PGDMP"u8.SequenceEqual(magic))
                {
                    throw BadRequestException.ForField("file", "The file is not a PostgreSQL custom-format dump");
                }
            }
        }
    }

    /// <summary>Replays the bytes already read, then the rest of the upload.</summary>
    private sealed class ConcatenatedStream(ReadOnlyMemory<byte> head, Stream tail) : Stream
    {
        private ReadOnlyMemory<byte> _head = head;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_head.Length > 0)
            {
                var count = Math.Min(buffer.Length, _head.Length);
                _head[..count].CopyTo(buffer);
                _head = _head[count..];
                return count;
            }

            return await tail.ReadAsync(buffer, cancellationToken);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/admin/backups/restore", async (IFormFile? file, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(file), cancellationToken)))
                .RequirePermission(Permissions.BackupManage)
                .DisableAntiforgery() // cookie callers are covered by the CSRF double-submit check
                .WithBodyLimit(MaxUploadBytes)
                .WithName(nameof(RestoreBackup))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Restore the database from a backup (multipart field 'file')")
                .ProducesErrors(400, 401, 403, 409, 413, 503);
    }
}
