using Capstan.Infrastructure.Http;

namespace Capstan.Features.Access;

/// <summary>OpenAPI tags and switches of the access area (seed 003).</summary>
internal static class AccessRoutes
{
    public const string Agents = "Access: agents";
    public const string AgentApi = "Access: agent API";
    public const string Requests = "Access: requests";
    public const string Workflows = "Access: workflows";
    public const string Policies = "Access: policies";
    public const string Tenancy = "Access: projects and environments";
    public const string Secrets = "Secrets";
    public const string Jobs = "Access: jobs";
    public const string GitOps = "Access: GitOps integration";

    /// <summary>The ArgoCD/GitOps integration is opt-in (<c>Access:GitOps:Enabled</c>, or upstream's
    /// <c>SB_GITOPS_ENABLED</c>); its routes answer 404 while it is off.</summary>
    public static readonly RequiresFeature GitOpsFeature = new("access-gitops", "Access:GitOps:Enabled", "SB_GITOPS_ENABLED");
}
