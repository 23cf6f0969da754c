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
/// <c>POST /api/v1/commands</c> (seed 004): <c>{instanceId, command, args?, env?, workingDir?, timeoutMs
/// (1000..300000, 30000)}</c> runs a command on the instance through its agent socket (on whichever replica holds it)
/// and answers 201 with the finished execution: SUCCEEDED (exit 0), FAILED (other exit code) or TIMEOUT (no answer in
/// time). 404 for an unknown instance, 409 when its agent is not connected.
/// </summary>
/// <remarks>Not a transactional command: the dispatch must commit before the agent can answer, so the handler commits
/// it (with its audit row) itself and then waits outside any transaction.</remarks>
public static class ExecuteCommand
{
    public sealed record Command(Guid InstanceId, string? CommandLine, string[]? Args, Dictionary<string, string>? Env, string? WorkingDir, int? TimeoutMs)
        : IRequest<ExecutionView>;

    public sealed record Body(Guid? InstanceId, string? Command, string[]? Args, Dictionary<string, string>? Env, string? WorkingDir, int? TimeoutMs);

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.InstanceId).NotEmpty().WithMessage("instanceId is required");
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
        : IRequestHandler<Command, ExecutionView>
    {
        public async Task<ExecutionView> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var spec = new CommandDispatch.Spec(
                command.CommandLine!, command.Args ?? [], command.Env ?? [], command.WorkingDir, command.TimeoutMs ?? 30_000, null, null);
            await using var waiter = CommandWaiter.Start(hub, cancellationToken);
            var now = clock.GetUtcNow().UtcDateTime;
            await db.BeginAsync(cancellationToken);
            CommandDispatch.Target target;
            try
            {
                target = (await CommandDispatch.DispatchAsync(db, hub, FleetVisibility.Of(caller), [command.InstanceId], caller.UserId, null, spec, now, cancellationToken))[0];
                if (target.ExecutionId is null)
                {
                    throw target.Status == 404 ? new NotFoundException(target.Error!) : new ConflictException(target.Error!);
                }

                audit.Record("command.execute", "instance", command.InstanceId.ToString(), target.Name,
                    new { executionId = target.ExecutionId, command = spec.Command, args = spec.Args, envNames = spec.Env.Keys, spec.TimeoutMs });
                await audit.BeforeCommitAsync(command, db, cancellationToken);
                await db.CommitAsync(cancellationToken);
            }
            catch
            {
                await db.RollbackAsync();
                throw;
            }

            var deadline = now.AddMilliseconds(spec.TimeoutMs) + CommandDispatch.Grace(configuration);
            var rows = await waiter.WaitAsync(db, [target.ExecutionId.Value], deadline, clock, cancellationToken);
            return rows[0].ToView();
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/commands", async (Body body, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var execution = await mediator.Send(
                        new Command(body.InstanceId ?? Guid.Empty, body.Command, body.Args, body.Env, body.WorkingDir, body.TimeoutMs), cancellationToken);
                    return TypedResults.Created($"/api/v1/commands/{execution.Id}", execution);
                })
                .RequirePermission(Permissions.CommandExecute)
                .WithName(nameof(ExecuteCommand))
                .WithTags(FleetRoutes.Commands)
                .WithSummary("Execute a command on an instance and wait for its result")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}

/// <summary>Input rules the command routes share.</summary>
internal static class CommandRules
{
    public const string EnvMessage = "env must map at most 64 variable names (letters, digits, '_', not starting with a digit) to values of at most 4096 characters";

    public static bool ValidEnv(Dictionary<string, string>? env) =>
        env is null || (env.Count <= 64 && env.All(pair =>
            pair.Key.Length is > 0 and <= 128
            && (char.IsAsciiLetter(pair.Key[0]) || pair.Key[0] == '_')
            && pair.Key.All(character => char.IsAsciiLetterOrDigit(character) || character == '_')
            && pair.Value is { Length: <= 4096 }));
}
