using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Tests.Support.Kubernetes;

/// <summary>How to start a fake API server.</summary>
public sealed record FakeKubernetesOptions
{
    /// <summary>Load the Flux and cluster fixtures (every Flux type with realistic status, controllers, events).</summary>
    public bool SeedFixtures { get; init; } = true;

    /// <summary>Serve HTTPS with a certificate from a throw-away CA (put in the kubeconfig as CA data).</summary>
    public bool Tls { get; init; }

    /// <summary>Demand a client certificate signed by the CA (requires <see cref="Tls"/>).</summary>
    public bool RequireClientCertificate { get; init; }

    /// <summary>Demand <c>Authorization: Bearer</c> with this token.</summary>
    public string? Token { get; init; }
}

/// <summary>A request the fake received, as sent.</summary>
public sealed record RecordedRequest(string Method, string PathAndQuery, string? ContentType, string Body, string? Authorization)
{
    public string Path => PathAndQuery.Split('?')[0];

    public string Query => PathAndQuery.Contains('?', StringComparison.Ordinal) ? PathAndQuery[(PathAndQuery.IndexOf('?', StringComparison.Ordinal) + 1)..] : string.Empty;

    public JsonNode? Json => Body.Length == 0 ? null : JsonNode.Parse(Body);

    public override string ToString() => $"{Method} {PathAndQuery} [{ContentType}] {Body}";
}

/// <summary>
/// An in-memory Kubernetes API server on a random loopback port (tests/Support, DESIGN §2): the REST semantics of a
/// real one for any registered type (resourceVersion, 404/409/410/422 Status bodies, label and field selectors with the
/// field whitelist, limit/continue, merge, JSON and strategic patches, server-side apply with field ownership and
/// conflicts, dry runs, watch streams with history replay and bookmarks, pod logs with tail and follow, service
/// proxies, discovery, /version), optional bearer token or TLS with client certificates, and a stand-in OIDC issuer.
/// Every request is recorded so tests can assert exactly what the service sent; failures can be injected.
/// </summary>
public sealed class FakeKubernetesApi : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly List<RecordedRequest> _requests = [];
    private readonly List<Failure> _failures = [];
    private readonly FakeKubernetesOptions _options;

    private FakeKubernetesApi(WebApplication app, FakeKubernetesOptions options, FakeCertificates? certificates)
    {
        _app = app;
        _options = options;
        Certificates = certificates;
    }

    public FakeStore Store { get; } = new();

    public string BaseUrl { get; private set; } = string.Empty;

    public FakeCertificates? Certificates { get; }

    /// <summary>Extra bearer tokens the server accepts (the OIDC stand-in adds the ID tokens it issues).</summary>
    public HashSet<string> AcceptedTokens { get; } = [];

    /// <summary>The refresh token the stand-in OIDC issuer honours.</summary>
    public string? OidcRefreshToken { get; set; }

    public int OidcRefreshes { get; private set; }

    public string OidcIssuer => BaseUrl + "/oidc";

    public string GitVersion { get; set; } = "v1.30.4";

    public IReadOnlyList<RecordedRequest> Requests
    {
        get
        {
            lock (_requests)
            {
                return [.. _requests];
            }
        }
    }

    public static async Task<FakeKubernetesApi> StartAsync(FakeKubernetesOptions? options = null)
    {
        options ??= new FakeKubernetesOptions();
        var certificates = options.Tls ? FakeCertificates.Create() : null;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrelHttpsConfiguration();
        builder.WebHost.UseKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (certificates is not null)
            {
                listen.UseHttps(new HttpsConnectionAdapterOptions
                {
                    ServerCertificate = certificates.Server,
                    ClientCertificateMode = options.RequireClientCertificate ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.AllowCertificate,
                    ClientCertificateValidation = (certificate, _, _) => certificates.Issued(certificate),
                });
            }
        }));
        var app = builder.Build();
        var fake = new FakeKubernetesApi(app, options, certificates);
        app.Run(fake.HandleAsync);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseUrl = address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal).TrimEnd('/');
        if (options.SeedFixtures)
        {
            fake.Store.LoadFixture("flux-resources.yaml");
            fake.Store.LoadFixture("cluster.yaml");
        }

        return fake;
    }

    /// <summary>A kubeconfig pointing at this server, authenticating as the options demand.</summary>
    public string Kubeconfig(string context = "fake", string? token = null, string? @namespace = "default")
    {
        var cluster = new StringBuilder($"    server: {BaseUrl}\n");
        if (Certificates is not null)
        {
            cluster.Append("    certificate-authority-data: ").Append(Base64(Certificates.CaPem)).Append('\n');
        }

        var user = new StringBuilder();
        if ((token ?? _options.Token) is { } bearer)
        {
            user.Append("    token: ").Append(bearer).Append('\n');
        }

        if (_options.RequireClientCertificate && Certificates is not null)
        {
            user.Append("    client-certificate-data: ").Append(Base64(Certificates.ClientCertificatePem)).Append('\n');
            user.Append("    client-key-data: ").Append(Base64(Certificates.ClientKeyPem)).Append('\n');
        }

        if (user.Length == 0)
        {
            user.Append("    username: admin\n");
        }

        return $"""
            apiVersion: v1
            kind: Config
            clusters:
            - name: fake-cluster
              cluster:
            {cluster.ToString().TrimEnd('\n')}
            contexts:
            - name: {context}
              context:
                cluster: fake-cluster
                user: fake-user
                namespace: {@namespace}
            current-context: {context}
            users:
            - name: fake-user
              user:
            {user.ToString().TrimEnd('\n')}
            """;
    }

    /// <summary>Back to the seeded state: fixtures reloaded, requests and injected failures forgotten.</summary>
    public void Reset()
    {
        Store.Clear();
        if (_options.SeedFixtures)
        {
            Store.LoadFixture("flux-resources.yaml");
            Store.LoadFixture("cluster.yaml");
        }

        lock (_failures)
        {
            _failures.Clear();
        }

        ClearRequests();
    }

    public void ClearRequests()
    {
        lock (_requests)
        {
            _requests.Clear();
        }
    }

    /// <summary>Requests whose method matches and whose path starts with <paramref name="pathPrefix"/>.</summary>
    public IReadOnlyList<RecordedRequest> RequestsTo(string method, string pathPrefix) =>
        [.. Requests.Where(request => request.Method == method && request.Path.StartsWith(pathPrefix, StringComparison.Ordinal))];

    /// <summary>The next <paramref name="times"/> requests matching answer <paramref name="status"/> with
    /// <paramref name="body"/> (status 0: only wait <paramref name="delay"/>, then answer normally).</summary>
    public void FailNext(string method, string pathPrefix, int status, string? body = null, int times = 1, TimeSpan? delay = null, string contentType = "application/json", IReadOnlyDictionary<string, string>? headers = null)
    {
        lock (_failures)
        {
            _failures.Add(new Failure(method, pathPrefix, status, body, contentType, headers, delay, times));
        }
    }

    public async ValueTask DisposeAsync()
    {
        Store.CloseWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        string body;
        using (var reader = new StreamReader(request.Body, Encoding.UTF8))
        {
            body = await reader.ReadToEndAsync(context.RequestAborted);
        }

        var recorded = new RecordedRequest(request.Method, request.Path.Value + request.QueryString.Value, request.ContentType, body, request.Headers.Authorization.ToString());
        lock (_requests)
        {
            _requests.Add(recorded);
        }

        if (TakeFailure(recorded) is { } failure)
        {
            if (failure.Delay is { } delay)
            {
                await Task.Delay(delay, context.RequestAborted);
            }

            if (failure.Status > 0)
            {
                context.Response.StatusCode = failure.Status;
                context.Response.ContentType = failure.ContentType;
                foreach (var (name, value) in failure.Headers ?? new Dictionary<string, string>())
                {
                    context.Response.Headers[name] = value;
                }

                await context.Response.WriteAsync(failure.Body ?? string.Empty, context.RequestAborted);
                return;
            }
        }

        try
        {
            if (request.Path.StartsWithSegments("/oidc"))
            {
                await OidcAsync(context, body);
                return;
            }

            if (!Authorized(context))
            {
                throw new FakeStatusException(401, "Unauthorized", "Unauthorized");
            }

            await RouteAsync(context, body);
        }
        catch (FakeStatusException exception)
        {
            if (!context.Response.HasStarted)
            {
                await WriteJsonAsync(context, exception.Code, exception.ToStatus());
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (a watch or a log follow ended).
        }
    }

    private bool Authorized(HttpContext context)
    {
        if (_options.RequireClientCertificate && context.Connection.ClientCertificate is not null)
        {
            return true;
        }

        if (_options.Token is null && AcceptedTokens.Count == 0 && !_options.RequireClientCertificate)
        {
            return true;
        }

        var header = context.Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.Ordinal))
        {
            return false;
        }

        var token = header[7..];
        lock (AcceptedTokens)
        {
            return token == _options.Token || AcceptedTokens.Contains(token);
        }
    }

    private async Task RouteAsync(HttpContext context, string body)
    {
        var path = context.Request.Path.Value!.Trim('/');
        var segments = path.Split('/').Select(Uri.UnescapeDataString).ToArray();
        var query = context.Request.Query;
        if (path == "version")
        {
            await WriteJsonAsync(context, 200, new JsonObject
            {
                ["major"] = "1",
                ["minor"] = GitVersion.Split('.')[1],
                ["gitVersion"] = GitVersion,
                ["gitCommit"] = "b3e5d9c1a7f2e4d6c8b0a9f1e3d5c7b9a1f3e5d7",
                ["gitTreeState"] = "clean",
                ["buildDate"] = "2024-08-14T19:50:59Z",
                ["goVersion"] = "go1.22.5",
                ["compiler"] = "gc",
                ["platform"] = "linux/amd64",
            });
            return;
        }

        if (path == "readyz" || path == "livez")
        {
            context.Response.StatusCode = 200;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync(
                "[+]ping ok\n[+]log ok\n[+]etcd ok\n[+]etcd-readiness ok\n[+]informer-sync ok\n[+]poststarthook/start-apiextensions-controllers ok\n" + path + " check passed\n",
                context.RequestAborted);
            return;
        }

        if (path == "api")
        {
            // The legacy group's versions (kubectl's discovery asks for them first).
            await WriteJsonAsync(context, 200, new JsonObject { ["kind"] = "APIVersions", ["versions"] = new JsonArray("v1") });
            return;
        }

        if (path == "apis")
        {
            var groups = new JsonArray();
            foreach (var byGroup in Store.Types.Where(type => type.Group.Length > 0).GroupBy(type => type.Group).OrderBy(group => group.Key, StringComparer.Ordinal))
            {
                var versions = new JsonArray([.. byGroup.Select(type => type.Version).Distinct().Select(v => (JsonNode)new JsonObject { ["groupVersion"] = $"{byGroup.Key}/{v}", ["version"] = v })]);
                groups.Add(new JsonObject { ["name"] = byGroup.Key, ["versions"] = versions, ["preferredVersion"] = versions[0]!.DeepClone() });
            }

            await WriteJsonAsync(context, 200, new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = groups });
            return;
        }

        string group;
        string version;
        string[] rest;
        if (segments is ["api", var coreVersion, ..])
        {
            (group, version, rest) = (string.Empty, coreVersion, segments[2..]);
        }
        else if (segments is ["apis", var apiGroup, var apiVersion, ..])
        {
            (group, version, rest) = (apiGroup, apiVersion, segments[3..]);
        }
        else
        {
            throw NoSuchResource();
        }

        if (rest.Length == 0)
        {
            await DiscoveryAsync(context, group, version);
            return;
        }

        if (group.Length == 0 && rest is ["namespaces", var proxyNamespace, "services", var service, "proxy", ..])
        {
            await ProxyAsync(context, proxyNamespace, service, string.Join('/', rest[5..]));
            return;
        }

        string? ns = null;
        string plural;
        string? name;
        string? subresource;
        if (rest is ["namespaces", var itemNamespace, var namespacedPlural, ..])
        {
            (ns, plural, name, subresource) = (itemNamespace, namespacedPlural, rest.ElementAtOrDefault(3), rest.ElementAtOrDefault(4));
        }
        else
        {
            (plural, name, subresource) = (rest[0], rest.ElementAtOrDefault(1), rest.ElementAtOrDefault(2));
        }

        var type = Store.FindType(group, version, plural) ?? throw NoSuchResource();
        if ((!type.Namespaced && ns is not null) || (type.Namespaced && name is not null && ns is null) || rest.Length > 5)
        {
            throw NoSuchResource();
        }

        var method = context.Request.Method;
        var manager = query["fieldManager"].ToString() is { Length: > 0 } fieldManager ? fieldManager : null;
        var dryRun = query["dryRun"].ToString() == "All";
        if (name is null)
        {
            if (HttpMethods.IsGet(method) && query["watch"].ToString() is "true" or "1")
            {
                await WatchAsync(context, type, ns);
            }
            else if (HttpMethods.IsGet(method))
            {
                var limit = int.TryParse(query["limit"], NumberStyles.None, CultureInfo.InvariantCulture, out var parsedLimit) ? parsedLimit : (int?)null;
                var (items, resourceVersion, continueToken, remaining) = Store.List(type, ns, query["labelSelector"], query["fieldSelector"], limit, query["continue"]);
                var metadata = new JsonObject { ["resourceVersion"] = resourceVersion };
                if (continueToken is not null)
                {
                    metadata["continue"] = continueToken;
                    metadata["remainingItemCount"] = remaining;
                }

                await WriteJsonAsync(context, 200, new JsonObject
                {
                    ["apiVersion"] = type.ApiVersion,
                    ["kind"] = type.Kind + "List",
                    ["metadata"] = metadata,
                    ["items"] = new JsonArray([.. items]),
                });
            }
            else if (HttpMethods.IsPost(method))
            {
                await WriteJsonAsync(context, 201, Store.Create(type, ns, ParseObject(body), manager ?? UserAgentManager(context), dryRun));
            }
            else
            {
                throw MethodNotAllowed();
            }

            return;
        }

        switch (subresource)
        {
            case null when HttpMethods.IsGet(method):
                await WriteJsonAsync(context, 200, Store.GetOrThrow(type, ns, name));
                break;
            case null or "status" when HttpMethods.IsPut(method):
                await WriteJsonAsync(context, 200, Store.Replace(type, ns, name, ParseObject(body), manager ?? UserAgentManager(context), dryRun, subresource));
                break;
            case null or "status" when HttpMethods.IsPatch(method):
                var contentType = context.Request.ContentType?.Split(';')[0].Trim() ?? string.Empty;
                var isApply = contentType == Capstan.Infrastructure.Kubernetes.KubernetesPatch.ApplyPatchType;
                var patched = Store.Patch(type, ns, name, contentType, body, manager ?? (isApply ? null : UserAgentManager(context)), dryRun, query["force"].ToString() == "true", subresource);
                await WriteJsonAsync(context, 200, patched);
                break;
            case null when HttpMethods.IsDelete(method):
                await WriteJsonAsync(context, 200, Store.Delete(type, ns, name, dryRun));
                break;
            case "status" when HttpMethods.IsGet(method):
                await WriteJsonAsync(context, 200, Store.GetOrThrow(type, ns, name));
                break;
            case "log" when type.Kind == "Pod" && HttpMethods.IsGet(method):
                await LogsAsync(context, ns!, name);
                break;
            case null or "status" or "log":
                throw MethodNotAllowed();
            default:
                throw NoSuchResource();
        }
    }

    private async Task WatchAsync(HttpContext context, FakeResourceType type, string? ns)
    {
        var query = context.Request.Query;
        var watcher = Store.Watch(type, ns, query["labelSelector"], query["fieldSelector"], query["resourceVersion"], query["allowWatchBookmarks"].ToString() == "true");
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (int.TryParse(query["timeoutSeconds"], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(seconds));
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/json";
        try
        {
            await context.Response.Body.FlushAsync(timeout.Token);
            await foreach (var line in watcher.Lines.ReadAllAsync(timeout.Token))
            {
                await context.Response.WriteAsync(line + "\n", timeout.Token);
                await context.Response.Body.FlushAsync(timeout.Token);
            }
        }
        catch (OperationCanceledException)
        {
            // Timed out or the client left: the watch ends.
        }
        finally
        {
            Store.Unwatch(watcher);
        }
    }

    private async Task LogsAsync(HttpContext context, string ns, string pod)
    {
        var podObject = Store.GetOrThrow(Store.FindType(string.Empty, "v1", "pods")!, ns, pod);
        var containers = (podObject["spec"]?["containers"] as JsonArray ?? []).Select(container => container?["name"]?.ToString() ?? string.Empty).ToList();
        var query = context.Request.Query;
        var container = query["container"].ToString();
        if (container.Length == 0)
        {
            if (containers.Count > 1)
            {
                throw new FakeStatusException(400, "BadRequest", $"a container name must be specified for pod {pod}, choose one of: [{string.Join(' ', containers)}]");
            }

            container = containers.FirstOrDefault() ?? "manager";
        }
        else if (!containers.Contains(container))
        {
            throw new FakeStatusException(400, "BadRequest", $"container {container} is not valid for pod {pod}");
        }

        var lines = Store.PodLog(ns, pod, container) ?? [];
        if (int.TryParse(query["tailLines"], NumberStyles.None, CultureInfo.InvariantCulture, out var tail))
        {
            lines = [.. lines.TakeLast(tail)];
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "text/plain";
        foreach (var line in lines)
        {
            await context.Response.WriteAsync(line + "\n", context.RequestAborted);
        }

        if (query["follow"].ToString() != "true")
        {
            return;
        }

        await context.Response.Body.FlushAsync(context.RequestAborted);
        var sent = Store.PodLog(ns, pod, container)?.Count ?? 0;
        while (!context.RequestAborted.IsCancellationRequested)
        {
            await Task.Delay(50, context.RequestAborted);
            var now = Store.PodLog(ns, pod, container) ?? [];
            foreach (var line in now.Skip(sent))
            {
                await context.Response.WriteAsync(line + "\n", context.RequestAborted);
            }

            sent = now.Count;
            await context.Response.Body.FlushAsync(context.RequestAborted);
        }
    }

    private async Task ProxyAsync(HttpContext context, string ns, string service, string path)
    {
        var serviceName = service.Split(':')[0];
        if (Store.FindType(string.Empty, "v1", "services") is { } services && Store.Get("v1", "Service", ns, serviceName) is null)
        {
            throw FakeStore.NotFound(services, serviceName);
        }

        if (Store.ProxyFile(ns, service, path) is not { } file)
        {
            context.Response.StatusCode = 404;
            context.Response.ContentType = "text/plain; charset=utf-8";
            await context.Response.WriteAsync("404 page not found\n", context.RequestAborted);
            return;
        }

        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/octet-stream";
        await context.Response.Body.WriteAsync(file, context.RequestAborted);
    }

    private async Task DiscoveryAsync(HttpContext context, string group, string version)
    {
        var types = Store.TypesInGroupVersion(group, version).ToList();
        if (types.Count == 0)
        {
            throw NoSuchResource();
        }

        var resources = new JsonArray();
        foreach (var type in types.OrderBy(type => type.Plural, StringComparer.Ordinal))
        {
            resources.Add(new JsonObject
            {
                ["name"] = type.Plural,
                ["singularName"] = type.Singular,
                ["namespaced"] = type.Namespaced,
                ["kind"] = type.Kind,
                ["verbs"] = new JsonArray("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"),
            });
            if (type.HasStatus)
            {
                resources.Add(new JsonObject
                {
                    ["name"] = type.Plural + "/status",
                    ["singularName"] = string.Empty,
                    ["namespaced"] = type.Namespaced,
                    ["kind"] = type.Kind,
                    ["verbs"] = new JsonArray("get", "patch", "update"),
                });
            }
        }

        await WriteJsonAsync(context, 200, new JsonObject
        {
            ["kind"] = "APIResourceList",
            ["apiVersion"] = "v1",
            ["groupVersion"] = group.Length == 0 ? version : $"{group}/{version}",
            ["resources"] = resources,
        });
    }

    private async Task OidcAsync(HttpContext context, string body)
    {
        if (context.Request.Path.Value!.EndsWith("/.well-known/openid-configuration", StringComparison.Ordinal))
        {
            await WriteJsonAsync(context, 200, new JsonObject { ["issuer"] = OidcIssuer, ["token_endpoint"] = OidcIssuer + "/token" });
            return;
        }

        var form = body.Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(pair => pair.Split('=', 2))
            .ToDictionary(pair => Uri.UnescapeDataString(pair[0]), pair => pair.Length > 1 ? Uri.UnescapeDataString(pair[1].Replace('+', ' ')) : string.Empty);
        if (form.GetValueOrDefault("grant_type") != "refresh_token" || OidcRefreshToken is null || form.GetValueOrDefault("refresh_token") != OidcRefreshToken)
        {
            await WriteJsonAsync(context, 400, new JsonObject { ["error"] = "invalid_grant" });
            return;
        }

        OidcRefreshes++;
        var payload = Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject
        {
            ["iss"] = OidcIssuer,
            ["sub"] = "oidc-user",
            ["aud"] = form.GetValueOrDefault("client_id"),
            ["exp"] = DateTimeOffset.UtcNow.AddHours(1).ToUnixTimeSeconds(),
        }.ToJsonString())).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        var idToken = $"eyJhbGciOiJub25lIn0.{payload}.{Guid.NewGuid():N}";
        lock (AcceptedTokens)
        {
            AcceptedTokens.Add(idToken);
        }

        await WriteJsonAsync(context, 200, new JsonObject { ["id_token"] = idToken, ["refresh_token"] = OidcRefreshToken, ["token_type"] = "Bearer" });
    }

    private Failure? TakeFailure(RecordedRequest request)
    {
        lock (_failures)
        {
            var failure = _failures.FirstOrDefault(candidate => candidate.Method == request.Method && request.Path.StartsWith(candidate.PathPrefix, StringComparison.Ordinal));
            if (failure is null)
            {
                return null;
            }

            failure.Times--;
            if (failure.Times <= 0)
            {
                _failures.Remove(failure);
            }

            return failure;
        }
    }

    private static string UserAgentManager(HttpContext context) =>
        context.Request.Headers.UserAgent.ToString().Split('/')[0] is { Length: > 0 } agent ? agent : "unknown";

    private static JsonObject ParseObject(string body)
    {
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? throw new FakeStatusException(400, "BadRequest", "the body is not an object");
        }
        catch (System.Text.Json.JsonException exception)
        {
            throw new FakeStatusException(400, "BadRequest", "error decoding request body: " + exception.Message);
        }
    }

    private static FakeStatusException NoSuchResource() => new(404, "NotFound", "the server could not find the requested resource");

    private static FakeStatusException MethodNotAllowed() => new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource");

    private static async Task WriteJsonAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    private static string Base64(string text) => Convert.ToBase64String(Encoding.UTF8.GetBytes(text));

    private sealed class Failure(string method, string pathPrefix, int status, string? body, string contentType, IReadOnlyDictionary<string, string>? headers, TimeSpan? delay, int times)
    {
        public string Method { get; } = method;

        public string PathPrefix { get; } = pathPrefix;

        public int Status { get; } = status;

        public string? Body { get; } = body;

        public string ContentType { get; } = contentType;

        public IReadOnlyDictionary<string, string>? Headers { get; } = headers;

        public TimeSpan? Delay { get; } = delay;

        public int Times { get; set; } = times;
    }
}
