namespace Capstan.Features.GitOps;

/// <summary>OpenAPI tags of the gitops area.</summary>
internal static class GitOpsRoutes
{
    public const string Resources = "Flux resources";
    public const string Actions = "Flux actions";
    public const string Diagnostics = "Flux diagnostics";
    public const string Live = "Live events";
}
