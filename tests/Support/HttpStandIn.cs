using System.Collections.Concurrent;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Tests.Support;

/// <summary>
/// A local HTTP server a test starts to stand in for something the service calls out to (a webhook receiver, Slack):
/// it records every request (method, path, headers, body) and answers with the statuses queued in
/// <see cref="Responses"/> (200 once they run out), optionally after <see cref="Delay"/>.
/// </summary>
public sealed class HttpStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;

    private HttpStandIn(WebApplication app) => _app = app;

    public sealed record Recorded(string Method, string Path, IReadOnlyDictionary<string, string> Headers, byte[] Body)
    {
        public string Text => System.Text.Encoding.UTF8.GetString(Body);
    }

    public ConcurrentQueue<Recorded> Requests { get; } = new();

    /// <summary>Statuses to answer with, in order; 200 once empty.</summary>
    public ConcurrentQueue<int> Responses { get; } = new();

    public TimeSpan Delay { get; set; } = TimeSpan.Zero;

    /// <summary>What every answer carries (JSON when it starts with <c>{</c> or <c>[</c>).</summary>
    public string ResponseBody { get; set; } = "ok";

    public string BaseUrl { get; private set; } = string.Empty;

    public string Url(string path) => BaseUrl + path;

    public static async Task<HttpStandIn> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseKestrel().UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var standIn = new HttpStandIn(app);
        app.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            standIn.Requests.Enqueue(new Recorded(
                context.Request.Method,
                context.Request.Path + context.Request.QueryString,
                context.Request.Headers.ToDictionary(header => header.Key, header => header.Value.ToString(), StringComparer.OrdinalIgnoreCase),
                body.ToArray()));
            if (standIn.Delay > TimeSpan.Zero)
            {
                await Task.Delay(standIn.Delay, context.RequestAborted);
            }

            context.Response.StatusCode = standIn.Responses.TryDequeue(out var status) ? status : StatusCodes.Status200OK;
            if (standIn.ResponseBody.StartsWith('{') || standIn.ResponseBody.StartsWith('['))
            {
                context.Response.ContentType = "application/json";
            }

            await context.Response.WriteAsync(standIn.ResponseBody);
        });
        await app.StartAsync();
        standIn.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return standIn;
    }

    /// <summary>Waits until at least <paramref name="count"/> requests arrived.</summary>
    public async Task<IReadOnlyList<Recorded>> WaitForAsync(int count, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (Requests.Count < count)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Expected {count} requests, got {Requests.Count}");
            }

            await Task.Delay(20);
        }

        return [.. Requests];
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
