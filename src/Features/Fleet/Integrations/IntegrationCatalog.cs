using Capstan.Infrastructure.Data;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.Fleet.Integrations;

/// <summary>
/// The platform integrations and provider credential specs of reference sindri.md §8.16, kept as data. An integration
/// is <c>configured</c> when every one of its settings is non-empty — read from the service's configuration (so from
/// environment variables of that name, and <c>A__B</c> names also as <c>A:B</c>) — and, for compute-catalog ones, also
/// when a fleet-wide vault secret carries that name. Values are never read into a response.
/// </summary>
internal static class IntegrationCatalog
{
    public sealed record Integration(
        string Id, string Name, string Description, string SetupUrl, string[] EnabledFeatures, string[] EnvVarNames, string Category, bool Required)
    {
        public string EnvVarName => EnvVarNames[0];
    }

    public sealed record ProviderSpec(
        string ProviderId, string Name, string Description, string SetupUrl, string[] RequiredEnvVars, string[] OptionalEnvVars, string? Notes);

    public static readonly Integration[] Integrations =
    [
        new("fly-pricing", "Fly.io pricing", "Live machine prices for the Fly.io compute catalog", "https://fly.io/user/personal_access_tokens",
            ["compute-catalog", "cost-estimates"], ["PRICING_FLY_API_TOKEN"], "compute_catalog", false),
        new("runpod-pricing", "RunPod pricing", "GPU and CPU pod prices for the RunPod compute catalog", "https://www.runpod.io/console/user/settings",
            ["compute-catalog", "cost-estimates"], ["PRICING_RUNPOD_API_KEY"], "compute_catalog", false),
        new("northflank-pricing", "Northflank pricing", "Plan prices for the Northflank compute catalog", "https://app.northflank.com/account/settings/api/tokens",
            ["compute-catalog", "cost-estimates"], ["PRICING_NORTHFLANK_API_TOKEN"], "compute_catalog", false),
        new("gcp-pricing", "Google Cloud pricing", "Machine-type prices from the Cloud Billing catalog", "https://console.cloud.google.com/apis/credentials",
            ["compute-catalog", "cost-estimates"], ["PRICING_GCP_API_KEY"], "compute_catalog", false),
        new("digitalocean-pricing", "DigitalOcean pricing", "Droplet size prices for the DigitalOcean compute catalog", "https://cloud.digitalocean.com/account/api/tokens",
            ["compute-catalog", "cost-estimates"], ["PRICING_DIGITALOCEAN_TOKEN"], "compute_catalog", false),
        new("github-oauth", "GitHub sign-in", "Sign in with GitHub accounts", "https://github.com/settings/developers",
            ["sso"], ["GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET"], "auth", false),
        new("google-oauth", "Google sign-in", "Sign in with Google accounts", "https://console.cloud.google.com/apis/credentials",
            ["sso"], ["GOOGLE_CLIENT_ID", "GOOGLE_CLIENT_SECRET"], "auth", false),
        new("resend", "Resend e-mail", "Transactional e-mail through Resend", "https://resend.com/api-keys",
            ["email-notifications"], ["RESEND_API_KEY"], "notification", false),
    ];

    public static readonly ProviderSpec[] Providers =
    [
        new("fly", "Fly.io", "Firecracker micro-VMs on Fly.io", "https://fly.io/docs/flyctl/auth-token/", ["FLY_API_TOKEN"], ["FLY_ORG"], null),
        new("docker", "Docker", "Containers on a local or remote Docker engine", "https://docs.docker.com/engine/security/protect-access/", [], ["DOCKER_HOST"],
            "Uses the local Docker socket unless DOCKER_HOST names another engine."),
        new("devpod-aws", "DevPod on AWS", "DevPod workspaces on EC2", "https://devpod.sh/docs/managing-providers/add-provider",
            ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"], ["AWS_REGION", "AWS_SESSION_TOKEN"], null),
        new("devpod-gcp", "DevPod on Google Cloud", "DevPod workspaces on Compute Engine", "https://devpod.sh/docs/managing-providers/add-provider",
            ["GOOGLE_APPLICATION_CREDENTIALS"], ["GOOGLE_CLOUD_PROJECT"], null),
        new("devpod-azure", "DevPod on Azure", "DevPod workspaces on Azure VMs", "https://devpod.sh/docs/managing-providers/add-provider",
            ["AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_TENANT_ID", "AZURE_SUBSCRIPTION_ID"], [], null),
        new("devpod-digitalocean", "DevPod on DigitalOcean", "DevPod workspaces on Droplets", "https://devpod.sh/docs/managing-providers/add-provider",
            ["DIGITALOCEAN_ACCESS_TOKEN"], [], null),
        new("e2b", "E2B", "Cloud sandboxes on E2B", "https://e2b.dev/dashboard?tab=keys", ["E2B_API_KEY"], [], null),
        new("kubernetes", "Kubernetes", "Pods on a Kubernetes cluster", "https://kubernetes.io/docs/concepts/configuration/organize-cluster-access-kubeconfig/",
            [], ["KUBECONFIG"], "Uses the in-cluster service account or the default kubeconfig unless KUBECONFIG names another."),
        new("runpod", "RunPod", "GPU pods on RunPod", "https://www.runpod.io/console/user/settings", ["RUNPOD_API_KEY"], [], null),
        new("northflank", "Northflank", "Services on Northflank", "https://app.northflank.com/account/settings/api/tokens", ["NORTHFLANK_API_TOKEN"], ["NORTHFLANK_PROJECT_ID"], null),
    ];

    /// <summary>Whether every setting is present (configuration or, when <paramref name="vaultNames"/> is given, a
    /// fleet-wide vault secret of that name).</summary>
    public static bool IsConfigured(IConfiguration configuration, IEnumerable<string> names, IReadOnlySet<string>? vaultNames = null) =>
        names.All(name => !string.IsNullOrWhiteSpace(configuration[name]) || !string.IsNullOrWhiteSpace(configuration[name.Replace("__", ":", StringComparison.Ordinal)])
            || (vaultNames?.Contains(name) ?? false));

    /// <summary>Names of fleet-wide vault secrets among <paramref name="names"/>.</summary>
    public static async Task<IReadOnlySet<string>> VaultNamesAsync(DbSession db, IEnumerable<string> names, CancellationToken cancellationToken) =>
        (await db.QueryAsync<string>("SELECT name FROM fleet.vault_secrets WHERE instance_id IS NULL AND name = ANY(@Names)", new { Names = names.ToArray() }, cancellationToken))
            .ToHashSet(StringComparer.Ordinal);
}

/// <summary>An integration as served: metadata and whether it is configured — never a value.</summary>
public sealed record IntegrationView(
    string Id, string Name, string Description, string SetupUrl, string[] EnabledFeatures, string EnvVarName, string[] EnvVarNames, string Category, bool Required,
    bool Configured);

/// <summary>A provider's credential spec as served, with whether its required settings are present.</summary>
public sealed record ProviderSpecView(
    string ProviderId, string Name, string Description, string SetupUrl, string[] RequiredEnvVars, string[] OptionalEnvVars, string? Notes, bool Configured);
