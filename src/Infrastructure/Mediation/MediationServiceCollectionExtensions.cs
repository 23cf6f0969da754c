using System.Reflection;
using FluentValidation;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Mediation;

public static class MediationServiceCollectionExtensions
{
    /// <summary>
    /// MediatR 5 wiring by hand (its DI package is not in our registry): the service factory, the mediator, every
    /// closed <see cref="IRequestHandler{TRequest,TResponse}"/> and validator in <paramref name="assemblies"/>, and the
    /// behaviors, outermost first: telemetry, validation, transaction.
    /// </summary>
    public static IServiceCollection AddMediation(this IServiceCollection services, params Assembly[] assemblies)
    {
        services.AddScoped<ServiceFactory>(provider => type => provider.GetService(type)!);
        services.AddScoped<IMediator, Mediator>();
        services.AddSingleton<HandlerMetrics>();
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(TelemetryBehavior<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(ValidationBehavior<,>));
        services.AddScoped(typeof(IPipelineBehavior<,>), typeof(TransactionBehavior<,>));
        return services.AddRequestHandlers(assemblies);
    }

    /// <summary>Registers the handlers and validators of <paramref name="assemblies"/> (the mediator itself is set up
    /// once by <see cref="AddMediation"/>).</summary>
    public static IServiceCollection AddRequestHandlers(this IServiceCollection services, params Assembly[] assemblies)
    {
        foreach (var type in assemblies.SelectMany(assembly => assembly.GetTypes()).Where(IsConcrete))
        {
            foreach (var handlerInterface in type.GetInterfaces().Where(IsRequestHandler))
            {
                services.AddScoped(handlerInterface, type);
            }
        }

        foreach (var assembly in assemblies)
        {
            foreach (var validator in AssemblyScanner.FindValidatorsInAssembly(assembly, includeInternalTypes: true))
            {
                services.Add(new ServiceDescriptor(validator.InterfaceType, validator.ValidatorType, LifetimeOf(validator.ValidatorType)));
            }
        }

        return services;
    }

    /// <summary>A validator without dependencies is immutable once built, and building one creates its rules from
    /// expression trees: it is built once. One that needs the request's services (the caller, the clock, a connection)
    /// is built per scope.</summary>
    private static ServiceLifetime LifetimeOf(Type validator) =>
        validator.GetConstructors().Any(constructor => constructor.GetParameters().Length == 0) ? ServiceLifetime.Singleton : ServiceLifetime.Scoped;

    private static bool IsConcrete(Type type) => type is { IsAbstract: false, IsInterface: false, IsGenericTypeDefinition: false };

    private static bool IsRequestHandler(Type type) =>
        type.IsGenericType && type.GetGenericTypeDefinition() == typeof(IRequestHandler<,>);
}
