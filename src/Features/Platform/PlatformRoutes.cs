namespace Capstan.Features.Platform;

/// <summary>The OpenAPI tag of the platform area (probes, metrics, version, backups).</summary>
internal static class PlatformRoutes
{
    public const string Tag = "Platform";
}
