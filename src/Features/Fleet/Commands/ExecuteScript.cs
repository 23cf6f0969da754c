using System.Text;
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
/// <c>POST /api/v1/commands/script</c> (seed 004): <c>{instanceIds[1..50], script (≤ 64 KiB), interpreter
/// ("/bin/bash"), timeoutMs (60000)}</c> uploads a script and runs it with the interpreter on each instance: the agent
/// gets <c>/bin/sh -c</c> decoding <c>SINDRI_SCRIPT_B64</c> into the interpreter's standard input (and the script
/// itself in the dispatch, for agents that take it directly). 207 with a result per instance, as the bulk route.
/// </summary>
/// <remarks>Commits the dispatch itself, then waits outside any transaction (see <see cref="ExecuteCommand"/>).</remarks>
public static class ExecuteScript
{
    public const int MaxScriptBytes = 64 * 1024;

    /// <summary>Decodes the script and feeds it to the interpreter, which reads its program from standard input.</summary>
    public const string Launcher = "printf '%s' \"$SINDRI_SCRIPT_B64\" | base64 -d | \"$SINDRI_SCRIPT_INTERPRETER\"";

    public sealed record Command(Guid[]? InstanceIds, string? Script, string? Interpreter, int? TimeoutMs) : IRequest<Response>;

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
            RuleFor(command => command.Script).Cascade(CascadeMode.Stop).NotEmpty().Must(script => Encoding.UTF8.GetByteCount(script!) <= MaxScriptBytes)
                .WithMessage("script must be at most 64 KiB");
            RuleFor(command => command.Interpreter).Matches("^/?[A-Za-z0-9._+-]+(/[A-Za-z0-9._+-]+)*$").MaximumLength(256)
                .When(command => command.Interpreter is not null).WithMessage("interpreter must be a program path such as /bin/bash or python3");
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
            var interpreter = command.Interpreter ?? "/bin/bash";
            var spec = new CommandDispatch.Spec(
                "/bin/sh",
                ["-c", Launcher],
                new Dictionary<string, string>
                {
                    ["SINDRI_SCRIPT_B64"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(command.Script!)),
                    ["SINDRI_SCRIPT_INTERPRETER"] = interpreter,
                },
                null,
                command.TimeoutMs ?? 60_000,
                command.Script,
                interpreter);
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

                audit.Record("command.script", "command_batch", batchId.ToString(), null,
                    new { instances = targets.Select(target => target.InstanceId), interpreter, scriptBytes = Encoding.UTF8.GetByteCount(command.Script!) });
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
            app.MapPost("/api/v1/commands/script", async (Command command, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Json(await mediator.Send(command, cancellationToken), statusCode: StatusCodes.Status207MultiStatus))
                .RequirePermission(Permissions.CommandExecute)
                .WithName(nameof(ExecuteScript))
                .WithTags(FleetRoutes.Commands)
                .WithSummary("Upload a script and run it on instances")
                .WithBodyLimit(256 * 1024)
                .Produces<Response>(StatusCodes.Status207MultiStatus)
                .ProducesErrors(400, 401, 403, 404, 413);
    }
}
