namespace Capstan.Features.Delivery;

/// <summary>OpenAPI tags of the delivery routes (seed 002, KubeOrch).</summary>
internal static class DeliveryRoutes
{
    public const string Workflows = "Delivery: workflows";
    public const string Runs = "Delivery: runs";
    public const string Versions = "Delivery: versions";
    public const string Diagnostics = "Delivery: diagnostics";
    public const string Resources = "Delivery: resources";
    public const string Builds = "Delivery: builds";
    public const string Import = "Delivery: import";
    public const string Catalog = "Delivery: templates and plugins";
    public const string Registries = "Delivery: registries";
    public const string Dashboard = "Delivery: dashboard";
    public const string Settings = "Delivery: settings";
}
