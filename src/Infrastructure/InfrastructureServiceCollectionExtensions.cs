using System.Reflection;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Backups;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Health;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Observability;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Settings;
using Capstan.Infrastructure.Sso;
using Capstan.Infrastructure.Tools;
using FluentValidation;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
        services.AddSingleton(provider => MasterKey.Load(
            configuration, LocalDataDirectory.Resolve(configuration), provider.GetRequiredService<ILoggerFactory>().CreateLogger("Capstan.Crypto")));
        services.AddSingleton<EnvelopeCipher>();
        services.AddSingleton<StreamingEnvelope>();
        services.AddSingleton<BackupStore>();
        services.AddSingleton<SessionTokens>();
        services.AddSingleton<CsrfTokens>();
        services.AddSingleton<CredentialStore>();
        services.AddSingleton<CredentialCheckCache>();
        services.AddHostedService<CredentialCheckCacheInvalidation>();
        services.AddSingleton<AgentCredentials>();
        services.AddSingleton<RateLimiter>();
        services.AddSingleton<LeasedRateLimiter>();
        services.AddSingleton<AuthSettings>();
        services.AddSingleton<SindriCli>();
        // Outbound HTTP (webhook and Slack notifications, and other areas' calls) through pooled, named clients.
        services.AddHttpClient();
        services.AddSingleton<KustomizeTool>();
        services.AddSingleton<ConnectionSlots>();
        services.AddSingleton<EventHub>();
        services.AddHostedService(provider => provider.GetRequiredService<EventHub>());
        services.AddSingleton<SessionIssuer>();
        services.AddSingleton(configuration.GetSection("Kubernetes").Get<KubernetesClientOptions>() ?? new KubernetesClientOptions());
        services.AddSingleton<KubernetesClientPool>();
        services.AddSingleton<ClusterProbe>();
        services.AddScoped<ClusterDirectory>();
        services.AddScoped<FluxGateway>();
        services.AddScoped<PasswordSignIn>();
        services.AddSingleton<IStartupTask, PasswordTimingWarmUp>();
        // OIDC / OAuth2 sign-in: outbound calls to identity providers get a short timeout, so a provider that hangs
        // fails one sign-in instead of holding a request (and its transaction) open.
        services.AddHttpClient(OidcClient.HttpClientName, client => client.Timeout = TimeSpan.FromSeconds(10));
        services.AddSingleton<OidcClient>();
        services.AddScoped<SsoProvisioning>();
        services.AddScoped<SsoFlow>();
        services.AddScoped<RequestContext>();
        services.AddScoped<AuditTrail>();
        services.AddScoped<ITransactionParticipant>(provider => provider.GetRequiredService<AuditTrail>());
        services.AddScoped<IAuthorizationHandler, PermissionAuthorizationHandler>();
        services.AddMediation(assemblies);
        services.AddCarterModules(assemblies);

        // Start-up tasks, command-line verbs and recurring jobs live beside the slices of their area.
        foreach (var type in assemblies.SelectMany(assembly => assembly.GetTypes()).Where(type => type is { IsAbstract: false, IsInterface: false }))
        {
            if (typeof(IStartupTask).IsAssignableFrom(type))
            {
                services.AddSingleton(typeof(IStartupTask), type);
            }
            else if (typeof(CommandLine.ICommandLineVerb).IsAssignableFrom(type))
            {
                services.AddSingleton(typeof(CommandLine.ICommandLineVerb), type);
            }
            else if (typeof(RecurringJob).IsAssignableFrom(type))
            {
                services.AddSingleton(type);
                services.AddSingleton(provider => (IHostedService)provider.GetRequiredService(type));
            }
        }

        return services;
    }
}
