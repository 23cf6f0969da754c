using Capstan.Features.Fleet.Instances;
using Capstan.Features.Identity;
using Capstan.Infrastructure.Mediation;
using FluentValidation;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>Validators without dependencies are built once; those that need the request's services (the caller, the
/// clock) are built per scope, so they never keep one request's caller or time for the next.</summary>
public sealed class ValidatorLifetimeTests
{
    private static ServiceLifetime LifetimeOf<TRequest>(IServiceCollection services) =>
        services.Single(descriptor => descriptor.ServiceType == typeof(IValidator<TRequest>)).Lifetime;

    [Fact]
    public void A_validator_without_dependencies_is_a_singleton_and_one_with_dependencies_is_scoped()
    {
        var services = new ServiceCollection().AddRequestHandlers(typeof(GetInstance).Assembly);

        LifetimeOf<GetInstance.Query>(services).ShouldBe(ServiceLifetime.Singleton);
        LifetimeOf<CreateApiKey.Command>(services).ShouldBe(ServiceLifetime.Scoped, "it takes the caller and the clock");
    }
}
