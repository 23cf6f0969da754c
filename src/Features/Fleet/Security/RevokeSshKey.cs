using Capstan.Features.Fleet.Commands;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Fleet.Security;

/// <summary><c>POST /api/v1/security/ssh-keys/{id}/revoke</c> (seed 004): revokes the key on its instance and in the
/// record. A command goes to the instance's agent that removes every <c>authorized_keys</c> line whose key has this
/// fingerprint (<see cref="RemovalScript"/>, run as <c>/bin/sh -c</c>; its outcome is in the command history), and the
/// key becomes REVOKED (who and when) in the same transaction → <c>{id, fingerprint, status: "REVOKED", revokedAt,
/// instanceId, commandExecutionId, command}</c>. 409 when the key is already revoked, or when the instance's agent is
/// not connected (nothing is recorded then: a revocation that did not reach the instance would not be one; retry once
/// the agent is back); unknown key or one on an instance the caller cannot see: 404.</summary>
public static class RevokeSshKey
{
    public sealed record Command(Guid Id) : ICommand<Response>;

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator() => RuleFor(command => command.Id).NotEmpty();
    }

    public sealed record Response(Guid Id, string Fingerprint, string Status, DateTime RevokedAt, Guid InstanceId, Guid CommandExecutionId, string Command);

    /// <summary>How long the removal may run on the instance.</summary>
    public const int TimeoutMs = 60_000;

    /// <summary>The shell script that drops the key with <paramref name="fingerprint"/> (SHA256:… or MD5 as
    /// <c>ssh-keygen -l</c> prints it) from <c>~/.ssh/authorized_keys</c>: each key line is fingerprinted with
    /// <c>ssh-keygen -lf -</c> (MD5 fingerprints with <c>-E md5</c>); comments, blank lines and other keys stay; the file is
    /// rewritten in place (permissions kept). It prints how many lines it removed and fails when <c>ssh-keygen</c> is
    /// missing.</summary>
    public static string RemovalScript(string fingerprint)
    {
        var quoted = "'" + fingerprint.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
        var hash = fingerprint.StartsWith("SHA256:", StringComparison.Ordinal) ? "sha256" : "md5";
        return $$"""
            fp={{quoted}}; f="$HOME/.ssh/authorized_keys"
            command -v ssh-keygen >/dev/null 2>&1 || { echo "ssh-keygen not found" >&2; exit 127; }
            [ -f "$f" ] || { echo "removed 0"; exit 0; }
            tmp=$(mktemp) || exit 1; n=0
            while IFS= read -r line || [ -n "$line" ]; do
              case "$line" in ''|'#'*) printf '%s\n' "$line" >>"$tmp"; continue ;; esac
              k=$(printf '%s\n' "$line" | ssh-keygen -E {{hash}} -lf - 2>/dev/null | awk '{print $2}')
              if [ "$k" = "$fp" ] || [ "$k" = "MD5:$fp" ]; then n=$((n+1)); else printf '%s\n' "$line" >>"$tmp"; fi
            done <"$f"
            cat "$tmp" >"$f" && rm -f "$tmp" && echo "removed $n"
            """;
    }

    internal sealed class Handler(DbSession db, RequestContext request, AuditTrail audit, EventHub hub, TimeProvider clock) : IRequestHandler<Command, Response>
    {
        private const string Current = $"""
            SELECT k.status, k.fingerprint, k.instance_id FROM fleet.ssh_keys k JOIN fleet.instances i ON i.id = k.instance_id
            WHERE k.id = @Id AND {FleetVisibility.Predicate}
            FOR UPDATE OF k
            """;

        private const string Revoke = "UPDATE fleet.ssh_keys SET status = 'REVOKED', revoked_at = @Now, revoked_by = @UserId, updated_at = @Now WHERE id = @Id";

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var scope = FleetVisibility.Of(caller);
            var key = await db.QuerySingleOrDefaultAsync<Row>(Current, new { command.Id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
                ?? throw new NotFoundException($"SSH key '{command.Id}' not found");
            if (key.Status == "REVOKED")
            {
                throw new ConflictException("SSH key is already revoked");
            }

            var now = clock.GetUtcNow().UtcDateTime;
            var script = RemovalScript(key.Fingerprint);
            var spec = new CommandDispatch.Spec("/bin/sh", ["-c", script], new Dictionary<string, string>(), null, TimeoutMs, null, null);
            var target = (await CommandDispatch.DispatchAsync(db, hub, scope, [key.InstanceId], caller.UserId, null, spec, now, cancellationToken))[0];
            if (target.ExecutionId is not { } executionId)
            {
                throw target.Status == 404
                    ? new NotFoundException($"SSH key '{command.Id}' not found")
                    : new ConflictException($"{target.Error}: the key was not revoked; retry once the agent is back");
            }

            await db.ExecuteAsync(Revoke, new { command.Id, Now = now, caller.UserId }, cancellationToken);
            audit.Record("security.ssh_key.revoke", "ssh_key", command.Id.ToString(), key.Fingerprint, new { from = key.Status, instanceId = key.InstanceId, commandExecutionId = executionId });
            return new Response(command.Id, key.Fingerprint, "REVOKED", now, key.InstanceId, executionId, script);
        }

        private sealed record Row(string Status, string Fingerprint, Guid InstanceId);
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/api/v1/security/ssh-keys/{id}/revoke", async (Guid id, IMediator mediator, CancellationToken cancellationToken) =>
                    TypedResults.Ok(await mediator.Send(new Command(id), cancellationToken)))
                .RequirePermission(Permissions.SecurityManage)
                .WithName(nameof(RevokeSshKey))
                .WithTags(FleetRoutes.SshKeys)
                .WithSummary("Revoke an SSH key")
                .ProducesErrors(400, 401, 403, 404, 409);
    }
}
