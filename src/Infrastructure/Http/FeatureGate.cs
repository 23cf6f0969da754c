using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;

namespace Capstan.Infrastructure.Http;

/// <summary>Route metadata: the route exists only while an opt-in feature is switched on. Off, the route answers 404
/// before authentication, as if it were not mapped (the upstream mounts such routes only when enabled).</summary>
public sealed record RequiresFeature(string Name, params string[] ConfigurationKeys)
{
    /// <summary>On when any of the configuration keys says true.</summary>
    public bool IsEnabled(IConfiguration configuration) =>
        ConfigurationKeys.Any(key => configuration.GetValue(key, false));
}

public static class FeatureGate
{
    /// <summary>Maps the route behind <paramref name="feature"/>: 404 unless one of its configuration keys is true.</summary>
    public static TBuilder RequireFeature<TBuilder>(this TBuilder builder, RequiresFeature feature)
        where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(feature);
}
