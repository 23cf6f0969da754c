using System.Net.Mime;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Backups;
using Capstan.Infrastructure.Crypto;
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

/// <summary><c>GET /api/v1/admin/backups/download?filename=&lt;name&gt;</c> (seed 000): streams the backup decrypted —
/// a PostgreSQL custom-format dump that <c>pg_restore</c> reads — as an attachment named without <c>.enc</c>. Every
/// download is audited.</summary>
public static class DownloadBackup
{
    public sealed record Command(string? Filename) : ICommand<Download>;

    public sealed record Download(string Path, string AttachmentName, bool Encrypted);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Filename).NotEmpty().MaximumLength(200);
    }

    internal sealed class Handler(BackupStore store, AuditTrail audit) : IRequestHandler<Command, Download>
    {
        public Task<Download> Handle(Command command, CancellationToken cancellationToken)
        {
            var file = store.Find(command.Filename);
            var encrypted = file.Name.EndsWith(".enc", StringComparison.Ordinal);
            audit.Record("backup.download", "backup", file.Name, file.Name);
            return Task.FromResult(new Download(file.FullName, encrypted ? file.Name[..^4] : file.Name, encrypted));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/admin/backups/download", async (string? filename, IMediator mediator, StreamingEnvelope envelope, CancellationToken cancellationToken) =>
                {
                    var download = await mediator.Send(new Command(filename), cancellationToken);
                    return Results.Stream(
                        async output =>
                        {
                            await using var input = File.OpenRead(download.Path);
                            if (download.Encrypted)
                            {
                                await envelope.DecryptAsync(input, output, BackupStore.AssociatedData, cancellationToken);
                            }
                            else
                            {
                                await input.CopyToAsync(output, cancellationToken);
                            }
                        },
                        MediaTypeNames.Application.Octet,
                        download.AttachmentName);
                })
                .RequirePermission(Permissions.BackupManage)
                .WithName(nameof(DownloadBackup))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Download a backup (decrypted pg_dump custom format)")
                .Produces(200, contentType: MediaTypeNames.Application.Octet)
                .ProducesErrors(400, 401, 403, 404);
    }
}
