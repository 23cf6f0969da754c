using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Api.Security;

/// <summary>
/// Authenticates agent routes (<see cref="AgentAuthenticated"/>): the route's <c>{id}</c> names the agent and
/// <c>X-Agent-Secret</c> proves it, so an agent can only ever act as itself. A malformed id is a 400; a missing, unknown,
/// wrong or revoked credential is one and the same 401. User credentials sent along are dropped: agent routes act for
/// the agent, never for a user.
/// </summary>
public sealed class AgentAuthenticationMiddleware(RequestDelegate next)
{
    public const string Rejected = "Agent authentication failed";

    public async Task InvokeAsync(HttpContext context, RequestContext request, AgentCredentials credentials)
    {
        if (context.GetEndpoint()?.Metadata.GetMetadata<AgentAuthenticated>() is null)
        {
            await next(context);
            return;
        }

        request.Caller = null;
        if (!Guid.TryParse(context.GetRouteValue(AgentAuthenticated.RouteValue)?.ToString(), out var agentId))
        {
            throw BadRequestException.ForField("id", "invalid agent id");
        }

        var agent = await credentials.VerifyAsync(agentId, context.Request.Headers[AgentAuthenticated.HeaderName].ToString(), context.RequestAborted);
        if (agent is null)
        {
            throw new UnauthorizedException(Rejected)
            {
                Headers = new Dictionary<string, string> { ["WWW-Authenticate"] = AgentAuthenticated.HeaderName },
            };
        }

        request.Agent = agent;
        await next(context);
    }
}
