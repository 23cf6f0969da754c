using System.Reflection;

namespace Capstan.Features;

/// <summary>Names this assembly for the scans that register its slices (handlers, validators, route modules).</summary>
public static class FeaturesAssembly
{
    public static Assembly Assembly { get; } = typeof(FeaturesAssembly).Assembly;
}
