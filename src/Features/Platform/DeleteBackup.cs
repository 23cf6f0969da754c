using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Backups;
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

/// <summary><c>DELETE /api/v1/admin/backups?filename=&lt;name&gt;</c> (seed 000): deletes one backup. Names other than
/// the store's own pattern (paths, traversal) are a 400; an unknown one a 404.</summary>
public static class DeleteBackup
{
    public sealed record Command(string? Filename) : ICommand<Response>;

    public sealed record Response(bool Success, string Filename);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Filename).NotEmpty().MaximumLength(200);
    }

    internal sealed class Handler(BackupStore store, AuditTrail audit) : IRequestHandler<Command, Response>
    {
        public Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var file = store.Find(command.Filename);
            file.Delete();
            audit.Record("backup.delete", "backup", file.Name, file.Name);
            return Task.FromResult(new Response(true, file.Name));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapDelete("/api/v1/admin/backups", async (string? filename, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(filename), cancellationToken)))
                .RequirePermission(Permissions.BackupManage)
                .WithName(nameof(DeleteBackup))
                .WithTags(PlatformRoutes.Tag)
                .WithSummary("Delete a backup")
                .ProducesErrors(400, 401, 403, 404);
    }
}
