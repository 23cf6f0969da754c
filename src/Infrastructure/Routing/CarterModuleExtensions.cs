using System.Reflection;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Routing;

public static class CarterModuleExtensions
{
    /// <summary>Registers every non-abstract, non-generic <see cref="ICarterModule"/> in the assemblies (nested and
    /// internal ones included) as a singleton, as Carter's <c>AddCarter</c> does.</summary>
    public static IServiceCollection AddCarterModules(this IServiceCollection services, params Assembly[] assemblies)
    {
        var modules = assemblies
            .SelectMany(assembly => assembly.GetTypes())
            .Where(type => type is { IsAbstract: false, IsInterface: false, ContainsGenericParameters: false }
                && typeof(ICarterModule).IsAssignableFrom(type));
        foreach (var module in modules)
        {
            services.AddSingleton(typeof(ICarterModule), module);
        }

        return services;
    }

    public static IEndpointRouteBuilder MapCarter(this IEndpointRouteBuilder app)
    {
        foreach (var module in app.ServiceProvider.GetServices<ICarterModule>())
        {
            module.AddRoutes(app);
        }

        return app;
    }
}
