using System.Text.Json;
using Capstan.Features.Access.Workflows;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Access.Requests;

/// <summary>
/// The preconditions of a vote (approve or reject), checked with the request row locked so votes on one request run one
/// after another: the caller sees the request (else 404) and holds <c>secret.approve</c> for its project (else 403); it
/// is pending and not past its TTL (else 409); the requester votes only where the workflow allows self-approval; the
/// workflow's approver role, when set, is held (globally or for the request's project); nobody votes twice (409).
/// </summary>
internal static class RequestVotes
{
    private const string Workflow = $"SELECT {WorkflowRow.Columns} FROM access.workflows WHERE id = @Id";

    private const string Now = "SELECT now()";

    private const string RoleScopes = "SELECT scope::text FROM identity.user_roles WHERE user_id = @UserId AND role_id = @RoleId";

    private const string Voted = "SELECT EXISTS (SELECT 1 FROM access.approvals WHERE request_id = @RequestId AND approver_id = @ApproverId)";

    public static async Task<(RequestRow Request, WorkflowRow Workflow)> PrepareAsync(DbSession db, Caller caller, Guid requestId, CancellationToken cancellationToken)
    {
        var row = await db.QuerySingleOrDefaultAsync<RequestRow>(RequestRecords.ByIdForUpdate, new { Id = requestId }, cancellationToken);
        if (row is null || !RequestRecords.CanSee(caller, row))
        {
            throw new NotFoundException("request not found");
        }

        if (!RequestRecords.CanApprove(caller, row))
        {
            throw new ForbiddenException("secret.approve is not granted to you for this request's project", "out_of_scope_project");
        }

        if (row.Status != "pending")
        {
            throw new ConflictException($"request is not pending (it is {row.Status})");
        }

        if (row.ExpiresAt <= await db.QuerySingleAsync<DateTime>(Now, null, cancellationToken))
        {
            throw new ConflictException("request has expired");
        }

        var workflow = await db.QuerySingleAsync<WorkflowRow>(Workflow, new { Id = row.WorkflowId }, cancellationToken);
        if (row.RequesterId == caller.UserId && !workflow.AllowSelfApproval)
        {
            throw new ForbiddenException("requester cannot approve or reject their own request");
        }

        if (workflow.ApproverRoleId is { } roleId && !await HoldsRoleAsync(db, caller.UserId, roleId, row.Scope, cancellationToken))
        {
            throw new ForbiddenException("The request's workflow requires its approver role, which you do not hold here");
        }

        if (await db.QuerySingleAsync<bool>(Voted, new { RequestId = row.Id, ApproverId = caller.UserId }, cancellationToken))
        {
            throw new ConflictException("approver has already voted on this request");
        }

        return (row, workflow);
    }

    private static async Task<bool> HoldsRoleAsync(DbSession db, Guid userId, Guid roleId, IReadOnlyDictionary<string, string> scope, CancellationToken cancellationToken)
    {
        foreach (var json in await db.QueryAsync<string>(RoleScopes, new { UserId = userId, RoleId = roleId }, cancellationToken))
        {
            using var grant = JsonDocument.Parse(json);
            if (grant.RootElement.EnumerateObject().All(entry =>
                    entry.Value.ValueKind == JsonValueKind.String && scope.TryGetValue(entry.Name, out var value) && value == entry.Value.GetString()))
            {
                return true;
            }
        }

        return false;
    }
}
