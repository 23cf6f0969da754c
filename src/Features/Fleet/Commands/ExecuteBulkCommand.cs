using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Commands;

/// <summary>
/// <c>POST /api/v1/commands/bulk</c> (seed 004): <c>{instanceIds[1..50], command, args?, env?, workingDir?,
/// timeoutMs}</c> runs one command on many instances at once and answers 207 with a result per instance: the finished
/// execution (<c>success</c> when the agent answered), or why it could not run (agent not connected, timeout). An
/// unknown instance fails the whole request with a 404 naming it, before anything runs.
/// </summary>
/// <remarks>Commits the dispatch itself, then waits outside any transaction (see <see cref="ExecuteCommand"/>).</remarks>
public static class ExecuteBulkCommand
{
    public sealed record Command(Guid[]? InstanceIds, string? CommandLine, string[]? Args, Dictionary<string, string>? Env, string? WorkingDir, int? TimeoutMs)
        : IRequest<Response>;

    public sealed record Body(Guid[]? InstanceIds, string? Command, string[]? Args, Dictionary<string, string>? Env, string? WorkingDir, int? TimeoutMs);

    public sealed record Response(Guid BatchId, IReadOnlyList<ItemResult> Results, Summary Summary);

    public sealed record ItemResult(Guid InstanceId, bool Success, ExecutionView? Execution, string? Error);

    public sealed record Summary(int Total, int Succeeded, int Failed);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceIds).Cascade(CascadeMode.Stop).NotEmpty().WithMessage("instanceIds must list 1 to 50 instances")
                .Must(ids => ids!.Length <= 50).WithMessage("instanceIds must list 1 to 50 instances")
                .Must(ids => ids!.All(id => id != Guid.Empty)).WithMessage("instanceIds must be instance ids");
            RuleFor(command => command.CommandLine).NotEmpty().MaximumLength(4096).OverridePropertyName("command");
            RuleFor(command => command.Args).Must(args => args!.Length <= 64 && args.All(arg => arg is { Length: <= 1024 }))
                .When(command => command.Args is not null).WithMessage("args must be at most 64 strings of at most 1024 characters");
            RuleFor(command => command.Env).Must(CommandRules.ValidEnv).When(command => command.Env is not null).WithMessage(CommandRules.EnvMessage);
            RuleFor(command => command.WorkingDir).MaximumLength(512);
            RuleFor(command => command.TimeoutMs).InclusiveBetween(1000, 300_000).When(command => command.TimeoutMs is not null)
                .WithMessage("timeoutMs must be between 1000 and 300000");
        }
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, IConfiguration configuration, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var spec = new CommandDispatch.Spec(
                command.CommandLine!, command.Args ?? [], command.Env ?? [], command.WorkingDir, command.TimeoutMs ?? 30_000, null, null);
            var batchId = Guid.CreateVersion7();
            await using var waiter = CommandWaiter.Start(hub, cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            List<CommandDispatch.Target> targets;
            await db.BeginAsync(cancellationToken);
            try
            {
                targets = await CommandDispatch.DispatchAsync(
                    db, hub, FleetVisibility.Of(caller), [.. command.InstanceIds!.Distinct()], caller.UserId, batchId, spec, now, cancellationToken);
                if (targets.Where(target => target.Status == 404).Select(target => target.InstanceId).ToList() is { Count: > 0 } missing)
                {
                    throw new NotFoundException($"Unknown instance(s): {string.Join(", ", missing)}");
                }

                audit.Record("command.bulk", "command_batch", batchId.ToString(), null,
                    new { instances = targets.Select(target => target.InstanceId), command = spec.Command, args = spec.Args, envNames = spec.Env.Keys });
                await audit.BeforeCommitAsync(command, db, cancellationToken);
                await db.CommitAsync(cancellationToken);
            }
            catch
            {
                await db.RollbackAsync();
                throw;
            }

            var dispatched = targets.Where(target => target.ExecutionId is not null).Select(target => target.ExecutionId!.Value).ToList();
            var rows = dispatched.Count == 0
                ? []
                : (await waiter.WaitAsync(db, dispatched, now.AddMilliseconds(spec.TimeoutMs) + CommandDispatch.Grace(configuration), clock, cancellationToken))
                    .ToDictionary(row => row.Id);
            var results = targets.Select(target => target.ExecutionId is { } id
                ? new ItemResult(target.InstanceId, rows[id].Status != "TIMEOUT", rows[id].ToView(), rows[id].Status == "TIMEOUT" ? rows[id].Stderr : null)
                : new ItemResult(target.InstanceId, false, null, target.Error)).ToList();
            var succeeded = results.Count(result => result.Success);
            return new Response(batchId, results, new Summary(results.Count, succeeded, results.Count - succeeded));
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/commands/bulk", async (Body body, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Json(
                        await mediator.Send(new Command(body.InstanceIds, body.Command, body.Args, body.Env, body.WorkingDir, body.TimeoutMs), cancellationToken),
                        statusCode: StatusCodes.Status207MultiStatus))
                .RequirePermission(Permissions.CommandBulk)
                .WithName(nameof(ExecuteBulkCommand))
                .WithTags(FleetRoutes.Commands)
                .WithSummary("Run a command on many instances")
                .Produces<Response>(StatusCodes.Status207MultiStatus)
                .ProducesErrors(400, 401, 403, 404);
    }
}
