using System.Reflection;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Health;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Observability;
using Capstan.Infrastructure.Routing;
using FluentValidation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure;

public static class InfrastructureServiceCollectionExtensions
{
    /// <summary>Everything slices stand on: clock, database, readiness, metrics, the MediatR pipeline and the route
    /// modules of <paramref name="assemblies"/>.</summary>
    public static IServiceCollection AddInfrastructure(this IServiceCollection services, IConfiguration configuration, params Assembly[] assemblies)
    {
        // Validation errors name fields as clients spell them: the JSON name when one is declared, else camelCase.
        ValidatorOptions.Global.PropertyNameResolver = (_, member, expression) =>
            member?.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name
            ?? (member?.Name is { Length: > 0 } name ? char.ToLowerInvariant(name[0]) + name[1..] : expression?.ToString());

        services.AddSingleton(TimeProvider.System);
        services.AddDatabase(configuration);
        services.AddSingleton<ServiceReadiness>();
        services.AddSingleton<DatabaseProbe>();
        services.AddHostedService<StartupInitializer>();
        services.AddSingleton<ProcessMetrics>();
        services.AddSingleton(provider =>
        {
            // The process meter must exist before the collector starts listening.
            provider.GetRequiredService<ProcessMetrics>();
            return new MetricsCollector(provider.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>());
        });
        services.AddMediation(assemblies);
        services.AddCarterModules(assemblies);
        return services;
    }
}
