namespace Capstan.Features.Fleet;

/// <summary>OpenAPI tags of the fleet area (seed 004's sections).</summary>
internal static class FleetRoutes
{
    public const string Fleet = "Fleet Overview";
    public const string Instances = "Instances";
    public const string Lifecycle = "Instance Lifecycle";
    public const string Agents = "Agents";
    public const string Metrics = "Metrics";
    public const string Logs = "Logs";
    public const string Alerts = "Alerts";
    public const string AlertRules = "Alert Rules";
    public const string Channels = "Notification Channels";
    public const string Commands = "Commands";
    public const string Deployments = "Deployments";
    public const string Templates = "Deployment Templates";
    public const string Extensions = "Extensions";
    public const string ExtensionPolicies = "Extension Policies";
    public const string Security = "Security";
    public const string SecretRotations = "Secret Rotations";
    public const string SshKeys = "SSH Keys";
    public const string Vault = "Secrets Vault";
    public const string Registry = "Registry";
    public const string Integrations = "Integrations";
    public const string Costs = "Costs";
    public const string Budgets = "Budgets";
    public const string Drift = "Configuration Drift";
    public const string Tasks = "Scheduled Tasks";
    public const string Providers = "Providers";
    public const string ComputeCatalog = "Compute Catalog";
    public const string Profiles = "Profiles";

    /// <summary>Summary suffix of routes this service adds beyond seed 004's inventory.</summary>
    public const string BeyondInventory = " (addition beyond seed 004)";
}
