using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Backups;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Platform;

/// <summary><c>POST /api/v1/admin/backups</c> (seed 000): dumps the whole database (every area), encrypted with the
/// master key, and answers 201 with the backup's metadata. One backup or restore at a time across replicas (409);
/// at most 20 per minute per admin (429); 503 when <c>pg_dump</c> is missing.</summary>
public static class CreateBackup
{
    /// <summary>The advisory lock backups and restores share, so they never overlap.</summary>
    public const long LockKey = 0x4361705F_42616B75;

    public sealed record Command : ICommand<BackupInfo>;

    internal sealed class Handler(DbSession db, BackupStore store, AuditTrail audit, RequestContext request, RateLimiter rateLimiter, IConfiguration configuration)
        : IRequestHandler<Command, BackupInfo>
    {
        private const string TryLock = "SELECT pg_try_advisory_xact_lock(@Key)";

        public async Task<BackupInfo> Handle(Command command, CancellationToken cancellationToken)
        {
            var limit = new RateLimitRule(configuration.GetValue("Platform:AdminRateLimit:PermitPerMinute", 20), TimeSpan.FromMinutes(1));
            await rateLimiter.EnforceAsync($"admin:{request.RequiredCaller.UserId}", limit, cancellationToken);
            if (!await db.ExecuteScalarAsync<bool>(TryLock, new { Key = LockKey }, cancellationToken))
            {
                throw new ConflictException("A backup or restore is already running");
            }

            var backup = await store.CreateAsync(cancellationToken);
            audit.Record("backup.create", "backup", backup.Filename, backup.Filename, new { backup.SizeBytes });
            return backup;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/admin/backups", async (IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var backup = await mediator.Send(new Command(), cancellationToken);
                    return TypedResults.Created($"/api/v1/admin/backups/download?filename={Uri.EscapeDataString(backup.Filename)}", backup);
                })
                .RequirePermission(Permissions.BackupManage)
                .WithName(nameof(CreateBackup))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Back up the database (encrypted)")
                .ProducesErrors(401, 403, 409, 429, 503);
    }
}
