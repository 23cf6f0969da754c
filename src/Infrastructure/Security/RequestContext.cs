using Capstan.Infrastructure.Errors;

namespace Capstan.Infrastructure.Security;

/// <summary>
/// The request's caller and origin, filled in by the pipeline (scoped). Handlers read the caller here instead of
/// trusting ids in bodies; handler tests set it directly.
/// </summary>
public sealed class RequestContext
{
    public Caller? Caller { get; set; }

    /// <summary>The access agent calling an agent route (<see cref="AgentAuthenticated"/>); null everywhere else.</summary>
    public AgentIdentity? Agent { get; set; }

    public string? IpAddress { get; set; }

    public string? UserAgent { get; set; }

    public string? RequestId { get; set; }

    /// <summary>The signed-in caller, or 401 when there is none.</summary>
    public Caller RequiredCaller => Caller ?? throw new UnauthorizedException();

    /// <summary>The authenticated agent, or 401 when there is none.</summary>
    public AgentIdentity RequiredAgent => Agent ?? throw new UnauthorizedException("Agent authentication failed");

    /// <summary>Seed 003 lets clients send <c>approver_id</c>, <c>actor_id</c>, <c>user_id</c>…: they may only name the
    /// caller. Returns the caller's id; a different id is a 400 naming the field.</summary>
    public Guid CallerIdMatching(string? claimedId, string field)
    {
        var caller = RequiredCaller;
        if (string.IsNullOrWhiteSpace(claimedId))
        {
            return caller.UserId;
        }

        var trimmed = claimedId.Trim();
        if (trimmed.StartsWith("user:", StringComparison.Ordinal))
        {
            trimmed = trimmed[5..];
        }

        return Guid.TryParse(trimmed, out var claimed) && claimed == caller.UserId
            ? caller.UserId
            : throw BadRequestException.ForField(field, $"{field} must be the caller's own id or omitted");
    }
}
