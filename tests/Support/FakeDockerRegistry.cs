using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Tests.Support;

/// <summary>
/// A stand-in container registry speaking the Docker Registry API's login check: <c>GET /v2/</c> answers 200 to the
/// right login and 401 otherwise, either with Basic authentication or (<c>tokenAuth</c>) with a Bearer challenge whose
/// realm (<c>/token</c>) hands out a token for the right Basic login, as Docker Hub and GHCR do.
/// </summary>
public sealed class FakeDockerRegistry : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _username;
    private readonly string _password;
    private readonly bool _tokenAuth;
    private readonly string _token = "registry-token-" + Guid.NewGuid().ToString("N")[..8];

    private FakeDockerRegistry(WebApplication app, string username, string password, bool tokenAuth)
    {
        _app = app;
        _username = username;
        _password = password;
        _tokenAuth = tokenAuth;
    }

    public string BaseUrl { get; private set; } = string.Empty;

    public int TokenRequests { get; private set; }

    public static async Task<FakeDockerRegistry> StartAsync(string username, string password, bool tokenAuth = false)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var registry = new FakeDockerRegistry(app, username, password, tokenAuth);
        app.Run(registry.HandleAsync);
        await app.StartAsync();
        registry.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return registry;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var authorization = context.Request.Headers.Authorization.ToString();
        var basicOk = authorization == "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{_username}:{_password}"));
        switch (context.Request.Path.Value)
        {
            case "/v2/" or "/v2":
                if (_tokenAuth ? authorization == "Bearer " + _token : basicOk)
                {
                    context.Response.StatusCode = 200;
                    context.Response.ContentType = "application/json";
                    await context.Response.WriteAsync("{}");
                    return;
                }

                context.Response.StatusCode = 401;
                context.Response.Headers.WWWAuthenticate = _tokenAuth
                    ? $"Bearer realm=\"{BaseUrl}/token\",service=\"fake-registry\""
                    : "Basic realm=\"fake-registry\"";
                return;
            case "/token" when _tokenAuth:
                TokenRequests++;
                if (!basicOk || context.Request.Query["service"] != "fake-registry")
                {
                    context.Response.StatusCode = 401;
                    return;
                }

                context.Response.ContentType = "application/json";
                await context.Response.WriteAsync($"{{\"token\":\"{_token}\",\"expires_in\":300}}");
                return;
            default:
                context.Response.StatusCode = 404;
                return;
        }
    }
}
