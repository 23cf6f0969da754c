using System.Text.Json.Serialization;
using Capstan.Api.Docs;
using Capstan.Api.Errors;
using Capstan.Api.Middleware;
using Capstan.Api.Security;
using Capstan.Features;
using Capstan.Infrastructure;
using Capstan.Infrastructure.Observability;
using Capstan.Infrastructure.Routing;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.HttpOverrides;

namespace Capstan.Api.Hosting;

public static class ApiHosting
{
    /// <summary>Registers the service: infrastructure, every slice, JSON rules, docs.</summary>
    public static WebApplicationBuilder AddCapstanApi(this WebApplicationBuilder builder)
    {
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.AddServerHeader = false);
        builder.Services.AddInfrastructure(builder.Configuration, FeaturesAssembly.Assembly, typeof(ApiHosting).Assembly);
        builder.Services.ConfigureHttpJsonOptions(json =>
        {
            json.SerializerOptions.MaxDepth = 64;
            json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(allowIntegerValues: false));
        });
        // Binding failures (bad JSON, wrong types) throw, so the error middleware can answer them in the one shape.
        builder.Services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        builder.Services.AddApiDocs();
        builder.Services.AddListCompression();
        // Route body limits (RequestBodyLimitMiddleware) bound uploads; the form reader must not cut them shorter.
        builder.Services.Configure<Microsoft.AspNetCore.Http.Features.FormOptions>(form => form.MultipartBodyLengthLimit = 512L << 20);
        builder.Services
            .AddAuthentication(CapstanAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, CapstanAuthenticationHandler>(CapstanAuthenticationHandler.SchemeName, null);
        builder.Services.AddAuthorization();
        builder.Services.AddSingleton<IAuthorizationMiddlewareResultHandler, PermissionResultHandler>();
        builder.Services.Configure<ForwardedHeadersOptions>(forwarded =>
        {
            // Behind a proxy (Api:TrustForwardedHeaders) the client address comes from X-Forwarded-For.
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto;
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
        });
        return builder;
    }

    /// <summary>The request pipeline, outermost first.</summary>
    public static WebApplication UseCapstanApi(this WebApplication app)
    {
        // Created now so the first requests are counted.
        app.Services.GetRequiredService<MetricsCollector>();

        if (app.Configuration.GetValue("Api:TrustForwardedHeaders", false))
        {
            app.UseForwardedHeaders();
        }

        app.UseMiddleware<RequestIdMiddleware>();
        app.UseMiddleware<RequestLoggingMiddleware>();
        app.UseMiddleware<ErrorHandlingMiddleware>();
        app.UseMiddleware<SecurityHeadersMiddleware>();
        app.UseResponseCompression();
        app.UseMiddleware<ApiVersionRewriteMiddleware>();
        app.UseMiddleware<RequestContextMiddleware>();
        // WebSocket upgrades (/api/v1/ws, the fleet agent socket) need the feature this middleware adds, before
        // authentication reads ?ticket= on upgrades. Once: a second registration wrapped the feature again on every
        // request and replaced the 30-second keep-alive with the default.
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(30) });
        app.UseRouting();
        app.UseMiddleware<RequestBodyLimitMiddleware>();
        app.UseMiddleware<StartupGateMiddleware>();
        app.UseMiddleware<FeatureGateMiddleware>();
        app.UseAuthentication();
        // Global per-address and per-user limits (shared across replicas); after authentication so the user is known.
        app.UseMiddleware<Capstan.Infrastructure.Http.RequestRateLimitMiddleware>();
        app.UseAuthorization();
        app.UseMiddleware<AgentAuthenticationMiddleware>();
        app.UseMiddleware<CsrfMiddleware>();
        // SIGTERM ends live streams with a final event instead of holding the shutdown open.
        app.UseMiddleware<Capstan.Infrastructure.Http.StreamShutdownMiddleware>();
        app.MapCarter();
        return app;
    }
}
