using System.Collections.Concurrent;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Tests.Support;

/// <summary>
/// A small ArgoCD stand-in on a loopback port: <c>GET /api/v1/applications[?projects=]</c> and
/// <c>GET /api/v1/applications/{name}[?appNamespace=]</c> in ArgoCD's JSON shape, behind a bearer token. Tests set the
/// applications' health and sync state and read which requests arrived (method, path, token).
/// </summary>
public sealed class FakeArgoCd : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, App> _apps = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _requests = new();
    private WebApplication? _app;

    public FakeArgoCd(string token) => Token = token;

    public string Token { get; }

    public string BaseUrl { get; private set; } = string.Empty;

    /// <summary>"METHOD path?query" of every request received.</summary>
    public IReadOnlyList<string> Requests => [.. _requests];

    /// <summary>When set, every request is answered with this status.</summary>
    public int? FailWith { get; set; }

    public static async Task<FakeArgoCd> StartAsync(string token = "argocd-test-token")
    {
        var fake = new FakeArgoCd(token);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Use(async (context, next) =>
        {
            fake._requests.Enqueue($"{context.Request.Method} {context.Request.Path}{context.Request.QueryString}");
            if (fake.FailWith is { } status)
            {
                context.Response.StatusCode = status;
                return;
            }

            if (context.Request.Headers.Authorization.ToString() != $"Bearer {fake.Token}")
            {
                context.Response.StatusCode = StatusCodes.Status401Unauthorized;
                await context.Response.WriteAsJsonAsync(new { error = "invalid session" });
                return;
            }

            await next(context);
        });
        app.MapGet("/api/v1/applications", (HttpContext context) =>
        {
            var project = context.Request.Query["projects"].ToString();
            var items = new JsonArray([.. fake._apps.Values.Where(candidate => project.Length == 0 || candidate.Project == project).OrderBy(candidate => candidate.Name).Select(candidate => (JsonNode)candidate.ToJson())]);
            return Results.Text(new JsonObject { ["items"] = items }.ToJsonString(), "application/json");
        });
        app.MapGet("/api/v1/applications/{name}", (string name) =>
            fake._apps.TryGetValue(name, out var found)
                ? Results.Text(found.ToJson().ToJsonString(), "application/json")
                : Results.Json(new { error = "not found" }, statusCode: 404));
        await app.StartAsync();
        fake._app = app;
        fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return fake;
    }

    public void SetApp(string name, string project, string health, string sync, string? operationPhase = null, string @namespace = "argocd") =>
        _apps[name] = new App(name, @namespace, project, health, sync, operationPhase);

    public async ValueTask DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private sealed record App(string Name, string Namespace, string Project, string Health, string Sync, string? OperationPhase)
    {
        public JsonObject ToJson()
        {
            var status = new JsonObject
            {
                ["health"] = new JsonObject { ["status"] = Health, ["message"] = Health == "Healthy" ? null : "waiting for rollout" },
                ["sync"] = new JsonObject { ["status"] = Sync, ["revision"] = "4f2a9c1" },
                ["resources"] = new JsonArray(new JsonObject
                {
                    ["kind"] = "Deployment",
                    ["name"] = Name,
                    ["namespace"] = "default",
                    ["health"] = new JsonObject { ["status"] = Health },
                }),
            };
            if (OperationPhase is not null)
            {
                status["operationState"] = new JsonObject { ["phase"] = OperationPhase };
            }

            return new JsonObject
            {
                ["metadata"] = new JsonObject { ["name"] = Name, ["namespace"] = Namespace },
                ["spec"] = new JsonObject
                {
                    ["project"] = Project,
                    ["destination"] = new JsonObject { ["server"] = "https://kubernetes.default.svc", ["name"] = "in-cluster", ["namespace"] = "default" },
                },
                ["status"] = status,
            };
        }
    }
}
