using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>A page of a list: the items, the list's resourceVersion (to watch from) and the continue token.</summary>
public sealed record KubernetesList(IReadOnlyList<JsonObject> Items, string? ResourceVersion, string? Continue, long? RemainingItemCount);

/// <summary>
/// A thin Kubernetes REST client over <see cref="HttpClient"/> (KubernetesClient is not in our registry): generic
/// get/list/create/replace/patch/delete/watch on any group, version and plural, pod logs, events, discovery and raw
/// GETs (for <c>/version</c>, service proxies). Objects are <see cref="JsonObject"/>s exactly as the API server
/// sends them. Every call has a deadline (see <see cref="KubernetesClientOptions"/>) and honours cancellation;
/// failures arrive as <see cref="KubernetesApiException"/> (4xx or 503, message scrubbed), never as raw HTTP errors.
/// One instance per cluster, thread-safe and meant to be kept (see <see cref="KubernetesClientPool"/>).
/// </summary>
public sealed class KubernetesClient : IDisposable
{
    private const int MaxErrorBody = 64 * 1024;
    private static readonly TimeSpan DiscoveryLifetime = TimeSpan.FromMinutes(5);

    private readonly HttpClient _http;
    private readonly ClusterConnection _connection;
    private readonly KubernetesClientOptions _options;
    private readonly OidcTokenSource? _oidc;
    private readonly ConcurrentDictionary<string, (DateTime At, IReadOnlyList<DiscoveredResource> Resources)> _discovery = new(StringComparer.Ordinal);
    private (string Token, DateTime ReadAt)? _fileToken;

    /// <param name="connection">Where the API server is and how to authenticate.</param>
    /// <param name="name">The cluster's name, used in error messages.</param>
    /// <param name="options">Deadlines; defaults when null.</param>
    /// <param name="handler">Replaces the HTTP transport (tests); the connection's TLS settings then do not apply.</param>
    public KubernetesClient(ClusterConnection connection, string name, KubernetesClientOptions? options = null, HttpMessageHandler? handler = null)
    {
        _connection = connection;
        _options = options ?? new KubernetesClientOptions();
        Name = name;
        if ((connection.ClientCertificatePem is null) != (connection.ClientKeyPem is null))
        {
            throw new ArgumentException("A client certificate needs its key, and a key its certificate", nameof(connection));
        }

        _http = new HttpClient(handler ?? CreateHandler(connection, _options), disposeHandler: true)
        {
            BaseAddress = new Uri(connection.Server.GetLeftPart(UriPartial.Authority) + connection.Server.AbsolutePath.TrimEnd('/') + "/"),
            Timeout = Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.UserAgent.ParseAdd(_options.UserAgent);
        _oidc = connection.Oidc is { } oidc ? new OidcTokenSource(oidc, name) : null;
    }

    /// <summary>The cluster's name, as error messages show it.</summary>
    public string Name { get; }

    public Uri Server => _connection.Server;

    /// <summary>The namespace of the kubeconfig context or service account, if any.</summary>
    public string? DefaultNamespace => _connection.Namespace;

    /// <summary><c>GET /version</c>: <c>{major, minor, gitVersion, platform, …}</c>.</summary>
    public async Task<JsonObject> GetVersionAsync(CancellationToken cancellationToken) =>
        await GetJsonAsync("version", _options.GetTimeout, "version", cancellationToken);

    /// <summary>Any GET path of the API server answering JSON (discovery, <c>/apis</c>, metrics, health).</summary>
    public async Task<JsonObject> GetJsonAsync(string path, CancellationToken cancellationToken) =>
        await GetJsonAsync(path, _options.GetTimeout, "get", cancellationToken);

    /// <summary>Any GET path answering text (<c>/readyz?verbose</c>, a pod log, a proxied file).</summary>
    public async Task<string> GetTextAsync(string path, CancellationToken cancellationToken, long maxBytes = 16 * 1024 * 1024)
    {
        var bytes = await GetBytesAsync(path, maxBytes, cancellationToken, _options.LogsTimeout);
        return Encoding.UTF8.GetString(bytes);
    }

    /// <summary>Downloads a path (for example a file behind a service proxy) up to <paramref name="maxBytes"/>.</summary>
    public async Task<byte[]> GetBytesAsync(string path, long maxBytes, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        var deadline = timeout ?? _options.LogsTimeout;
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(deadline);
        using var response = await SendAsync(HttpMethod.Get, path, null, "*/*", deadline, "download", cts, cancellationToken, HttpCompletionOption.ResponseHeadersRead);
        if (response.Content.Headers.ContentLength > maxBytes)
        {
            throw new KubernetesApiException(400, $"The response is larger than {maxBytes} bytes", 200, "TooLarge");
        }

        try
        {
            await using var stream = await response.Content.ReadAsStreamAsync(cts.Token);
            using var buffer = new MemoryStream();
            var chunk = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(chunk, cts.Token)) > 0)
            {
                if (buffer.Length + read > maxBytes)
                {
                    throw new KubernetesApiException(400, $"The response is larger than {maxBytes} bytes", 200, "TooLarge");
                }

                buffer.Write(chunk, 0, read);
            }

            return buffer.ToArray();
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw KubernetesApiException.TimedOut(Name, deadline, "download");
        }
        catch (HttpRequestException exception)
        {
            throw KubernetesApiException.Unreachable(Name, exception);
        }
        catch (IOException exception)
        {
            throw KubernetesApiException.Unreachable(Name, new HttpRequestException(exception.Message, exception));
        }
    }

    /// <summary>One object (or its subresource, such as <c>status</c>).</summary>
    public Task<JsonObject> GetAsync(KubernetesResourceType type, string? @namespace, string name, CancellationToken cancellationToken, string? subresource = null) =>
        GetJsonAsync(type.ItemPath(@namespace, name, subresource), _options.GetTimeout, $"get {type.Plural}", cancellationToken);

    /// <summary>One object, or null when it does not exist.</summary>
    public async Task<JsonObject?> TryGetAsync(KubernetesResourceType type, string? @namespace, string name, CancellationToken cancellationToken)
    {
        try
        {
            return await GetAsync(type, @namespace, name, cancellationToken);
        }
        catch (KubernetesApiException exception) when (exception.IsNotFound)
        {
            return null;
        }
    }

    /// <summary>One page of a list, as the raw <c>*List</c> object; cluster-wide when <paramref name="namespace"/> is null.</summary>
    public Task<JsonObject> ListAsync(KubernetesResourceType type, string? @namespace, ListOptions? options, CancellationToken cancellationToken)
    {
        options ??= new ListOptions();
        var path = type.CollectionPath(@namespace) + Query(
            ("labelSelector", options.LabelSelector),
            ("fieldSelector", options.FieldSelector),
            ("limit", options.Limit?.ToString(CultureInfo.InvariantCulture)),
            ("continue", options.Continue),
            ("resourceVersion", options.ResourceVersion));
        return GetJsonAsync(path, _options.ListTimeout, $"list {type.Plural}", cancellationToken);
    }

    /// <summary>Every item, fetched in chunks of <paramref name="chunkSize"/> following the continue tokens.</summary>
    public async Task<KubernetesList> ListAllAsync(KubernetesResourceType type, string? @namespace, ListOptions? options, CancellationToken cancellationToken, int chunkSize = 500)
    {
        options ??= new ListOptions();
        var items = new List<JsonObject>();
        string? continueToken = null;
        string? resourceVersion;
        do
        {
            var page = await ListAsync(type, @namespace, options with { Limit = chunkSize, Continue = continueToken }, cancellationToken);
            items.AddRange(ItemsOf(page));
            resourceVersion = page["metadata"]?["resourceVersion"]?.ToString();
            continueToken = page["metadata"]?["continue"]?.ToString() is { Length: > 0 } next ? next : null;
        }
        while (continueToken is not null);

        return new KubernetesList(items, resourceVersion, null, null);
    }

    /// <summary>The items of a raw list object.</summary>
    public static IReadOnlyList<JsonObject> ItemsOf(JsonObject list) => [.. (list["items"] as JsonArray ?? []).OfType<JsonObject>()];

    public Task<JsonObject> CreateAsync(KubernetesResourceType type, string? @namespace, JsonObject body, CancellationToken cancellationToken, WriteOptions? options = null) =>
        SendJsonAsync(HttpMethod.Post, type.CollectionPath(@namespace) + WriteQuery(options), JsonContent(body), _options.WriteTimeout, $"create {type.Plural}", cancellationToken);

    /// <summary>PUT: replaces the object (its <c>metadata.resourceVersion</c> guards against lost updates).</summary>
    public Task<JsonObject> ReplaceAsync(KubernetesResourceType type, string? @namespace, string name, JsonObject body, CancellationToken cancellationToken, WriteOptions? options = null, string? subresource = null) =>
        SendJsonAsync(HttpMethod.Put, type.ItemPath(@namespace, name, subresource) + WriteQuery(options), JsonContent(body), _options.WriteTimeout, $"replace {type.Plural}", cancellationToken);

    /// <summary>PATCH with the patch's own content type (merge, JSON, strategic merge or server-side apply).</summary>
    public Task<JsonObject> PatchAsync(KubernetesResourceType type, string? @namespace, string name, KubernetesPatch patch, CancellationToken cancellationToken, WriteOptions? options = null, string? subresource = null)
    {
        if (patch.ContentType == KubernetesPatch.ApplyPatchType && string.IsNullOrEmpty(options?.FieldManager))
        {
            throw new ArgumentException("Server-side apply needs a field manager", nameof(options));
        }

        var content = new StringContent(patch.Body, Encoding.UTF8);
        content.Headers.ContentType = new MediaTypeHeaderValue(patch.ContentType);
        var query = WriteQuery(options, patch.ContentType == KubernetesPatch.ApplyPatchType && options!.Force);
        return SendJsonAsync(HttpMethod.Patch, type.ItemPath(@namespace, name, subresource) + query, content, _options.WriteTimeout, $"patch {type.Plural}", cancellationToken);
    }

    /// <summary>DELETE; answers the deleted object or a success Status.</summary>
    public Task<JsonObject> DeleteAsync(KubernetesResourceType type, string? @namespace, string name, CancellationToken cancellationToken, DeleteOptions? options = null)
    {
        var query = Query(
            ("propagationPolicy", options?.PropagationPolicy),
            ("dryRun", options?.DryRun == true ? "All" : null),
            ("gracePeriodSeconds", options?.GracePeriodSeconds?.ToString(CultureInfo.InvariantCulture)));
        return SendJsonAsync(HttpMethod.Delete, type.ItemPath(@namespace, name) + query, null, _options.WriteTimeout, $"delete {type.Plural}", cancellationToken);
    }

    /// <summary>
    /// A watch as a stream of events until the server ends it (its timeout, a dropped connection) or
    /// <paramref name="cancellationToken"/> is cancelled. An <c>ERROR</c> event is thrown as a
    /// <see cref="KubernetesApiException"/> (<see cref="KubernetesApiException.IsExpired"/> when the version is too old:
    /// list again and watch from the new version).
    /// </summary>
    public async IAsyncEnumerable<WatchEvent> WatchAsync(
        KubernetesResourceType type, string? @namespace, WatchOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        options ??= new WatchOptions();
        var path = type.CollectionPath(@namespace) + Query(
            ("watch", "true"),
            ("resourceVersion", options.ResourceVersion),
            ("allowWatchBookmarks", options.AllowBookmarks ? "true" : null),
            ("labelSelector", options.LabelSelector),
            ("fieldSelector", options.FieldSelector),
            ("timeoutSeconds", options.TimeoutSeconds?.ToString(CultureInfo.InvariantCulture)));
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_options.WatchConnectTimeout);
        using var response = await SendAsync(HttpMethod.Get, path, null, "application/json", _options.WatchConnectTimeout, $"watch {type.Plural}", cts, cancellationToken, HttpCompletionOption.ResponseHeadersRead);
        cts.CancelAfter(Timeout.InfiniteTimeSpan);
        var stream = await response.Content.ReadAsStreamAsync(cancellationToken);
        await foreach (var watchEvent in ReadWatchStreamAsync(stream, Name, cancellationToken))
        {
            yield return watchEvent;
        }
    }

    /// <summary>Reads the watch wire format: one JSON event per line (<c>{"type": …, "object": {…}}</c>), in
    /// chunks of any size. Ends quietly when the stream ends or drops.</summary>
    public static async IAsyncEnumerable<WatchEvent> ReadWatchStreamAsync(Stream stream, string cluster, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                yield break;
            }

            if (line is null)
            {
                yield break;
            }

            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            JsonObject frame;
            try
            {
                frame = JsonNode.Parse(line) as JsonObject ?? throw new JsonException("not an object");
            }
            catch (JsonException)
            {
                throw new KubernetesApiException(503, $"Kubernetes cluster '{cluster}' sent a malformed watch event", 200, "MalformedWatch", "Service Unavailable");
            }

            var type = frame["type"]?.ToString() ?? string.Empty;
            var obj = frame["object"] as JsonObject ?? new JsonObject();
            if (type == "ERROR")
            {
                var status = KubernetesStatus.From(obj);
                throw KubernetesApiException.FromResponse(status?.Code is > 0 ? status.Code : 500, obj.ToJsonString(), null, cluster);
            }

            yield return new WatchEvent(type, obj);
        }
    }

    /// <summary>A pod's log (one container), as text.</summary>
    public Task<string> GetPodLogsAsync(string @namespace, string pod, PodLogOptions? options, CancellationToken cancellationToken) =>
        GetTextAsync(PodLogPath(@namespace, pod, options, follow: false), cancellationToken);

    /// <summary>Follows a pod's log line by line until the container stops or <paramref name="cancellationToken"/> fires.</summary>
    public async IAsyncEnumerable<string> StreamPodLogsAsync(string @namespace, string pod, PodLogOptions? options, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(_options.WatchConnectTimeout);
        using var response = await SendAsync(HttpMethod.Get, PodLogPath(@namespace, pod, options, follow: true), null, "*/*", _options.WatchConnectTimeout, "stream logs", cts, cancellationToken, HttpCompletionOption.ResponseHeadersRead);
        cts.CancelAfter(Timeout.InfiniteTimeSpan);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        while (true)
        {
            string? line;
            try
            {
                line = await reader.ReadLineAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is IOException or HttpRequestException && !cancellationToken.IsCancellationRequested)
            {
                yield break;
            }

            if (line is null)
            {
                yield break;
            }

            yield return line;
        }
    }

    /// <summary>Core events, in one namespace or all, filtered by a field selector such as
    /// <c>involvedObject.name=x,involvedObject.kind=Kustomization</c>.</summary>
    public async Task<IReadOnlyList<JsonObject>> ListEventsAsync(string? @namespace, string? fieldSelector, int? limit, CancellationToken cancellationToken)
    {
        var list = await ListAsync(KubernetesResourceType.Events, @namespace, new ListOptions { FieldSelector = fieldSelector, Limit = limit }, cancellationToken);
        return ItemsOf(list);
    }

    /// <summary>The resource types of one group-version (discovery, cached for a few minutes); empty when the API
    /// server does not serve that group-version.</summary>
    public async Task<IReadOnlyList<DiscoveredResource>> DiscoverAsync(string apiVersion, CancellationToken cancellationToken)
    {
        if (_discovery.TryGetValue(apiVersion, out var cached) && DateTime.UtcNow - cached.At < DiscoveryLifetime)
        {
            return cached.Resources;
        }

        var (group, version) = KubernetesResourceType.SplitApiVersion(apiVersion);
        var prefix = new KubernetesResourceType(group, version, "x").GroupVersionPath;
        JsonObject list;
        try
        {
            list = await GetJsonAsync(prefix.TrimStart('/'), _options.GetTimeout, "discovery", cancellationToken);
        }
        catch (KubernetesApiException exception) when (exception.IsNotFound)
        {
            list = new JsonObject();
        }

        var resources = (list["resources"] as JsonArray ?? [])
            .OfType<JsonObject>()
            .Where(resource => resource["name"]?.ToString() is { } name && !name.Contains('/', StringComparison.Ordinal))
            .Select(resource => new DiscoveredResource(
                new KubernetesResourceType(group, version, resource["name"]!.ToString(), resource["kind"]?.ToString(), resource["namespaced"]?.GetValue<bool>() ?? true),
                [.. (resource["verbs"] as JsonArray ?? []).Select(verb => verb?.ToString() ?? string.Empty)]))
            .ToList();
        _discovery[apiVersion] = (DateTime.UtcNow, resources);
        return resources;
    }

    /// <summary>The resource type serving <paramref name="kind"/> in <paramref name="apiVersion"/>, or null.</summary>
    public async Task<KubernetesResourceType?> ResolveKindAsync(string apiVersion, string kind, CancellationToken cancellationToken) =>
        (await DiscoverAsync(apiVersion, cancellationToken)).FirstOrDefault(resource => resource.Type.Kind == kind)?.Type;

    /// <summary>The API-server path proxying to a service port: <c>/api/v1/namespaces/{ns}/services/{name}:{port}/proxy/{path}</c>.</summary>
    public static string ServiceProxyPath(string @namespace, string service, string port, string path) =>
        $"api/v1/namespaces/{Uri.EscapeDataString(@namespace)}/services/{Uri.EscapeDataString(service)}:{Uri.EscapeDataString(port)}/proxy/{path.TrimStart('/')}";

    public void Dispose()
    {
        _http.Dispose();
        _oidc?.Dispose();
    }

    private static string PodLogPath(string @namespace, string pod, PodLogOptions? options, bool follow) =>
        KubernetesResourceType.Pods.ItemPath(@namespace, pod, "log") + Query(
            ("container", options?.Container),
            ("tailLines", options?.TailLines?.ToString(CultureInfo.InvariantCulture)),
            ("sinceSeconds", options?.SinceSeconds?.ToString(CultureInfo.InvariantCulture)),
            ("timestamps", options?.Timestamps == true ? "true" : null),
            ("previous", options?.Previous == true ? "true" : null),
            ("limitBytes", options?.LimitBytes?.ToString(CultureInfo.InvariantCulture)),
            ("follow", follow ? "true" : null));

    private async Task<JsonObject> GetJsonAsync(string path, TimeSpan timeout, string operation, CancellationToken cancellationToken) =>
        await SendJsonAsync(HttpMethod.Get, path, null, timeout, operation, cancellationToken);

    private async Task<JsonObject> SendJsonAsync(HttpMethod method, string path, HttpContent? content, TimeSpan timeout, string operation, CancellationToken cancellationToken)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        cts.CancelAfter(timeout);
        using var response = await SendAsync(method, path, content, "application/json", timeout, operation, cts, cancellationToken, HttpCompletionOption.ResponseContentRead);
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cts.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw KubernetesApiException.TimedOut(Name, timeout, operation);
        }

        try
        {
            return JsonNode.Parse(body.Length == 0 ? "{}" : body) as JsonObject
                ?? throw new JsonException("not an object");
        }
        catch (JsonException)
        {
            throw new KubernetesApiException(503, $"Kubernetes cluster '{Name}' answered {operation} with something that is not Kubernetes JSON", (int)response.StatusCode, "MalformedResponse", "Service Unavailable");
        }
    }

    private async Task<HttpResponseMessage> SendAsync(
        HttpMethod method,
        string path,
        HttpContent? content,
        string accept,
        TimeSpan timeout,
        string operation,
        CancellationTokenSource deadline,
        CancellationToken callerToken,
        HttpCompletionOption completion)
    {
        using var request = new HttpRequestMessage(method, path.TrimStart('/')) { Content = content };
        request.Headers.Accept.ParseAdd(accept);
        HttpResponseMessage response;
        try
        {
            request.Headers.Authorization = await AuthorizationAsync(deadline.Token);
            response = await _http.SendAsync(request, completion, deadline.Token);
        }
        catch (OperationCanceledException) when (!callerToken.IsCancellationRequested)
        {
            throw KubernetesApiException.TimedOut(Name, timeout, operation);
        }
        catch (HttpRequestException exception)
        {
            throw KubernetesApiException.Unreachable(Name, exception);
        }

        if (response.IsSuccessStatusCode)
        {
            return response;
        }

        using (response)
        {
            string? body = null;
            try
            {
                var bytes = await response.Content.ReadAsByteArrayAsync(deadline.Token);
                body = Encoding.UTF8.GetString(bytes, 0, Math.Min(bytes.Length, MaxErrorBody));
            }
            catch (Exception exception) when (exception is HttpRequestException or IOException or OperationCanceledException && !callerToken.IsCancellationRequested)
            {
                // The status code alone still says enough.
            }

            throw KubernetesApiException.FromResponse((int)response.StatusCode, body, response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString("0", CultureInfo.InvariantCulture), Name);
        }
    }

    private async ValueTask<AuthenticationHeaderValue?> AuthorizationAsync(CancellationToken cancellationToken)
    {
        if (_oidc is not null)
        {
            return new AuthenticationHeaderValue("Bearer", await _oidc.GetTokenAsync(cancellationToken));
        }

        if (_connection.TokenFile is { } file)
        {
            // Projected service-account tokens rotate: re-read the file every minute.
            if (_fileToken is not { } cached || DateTime.UtcNow - cached.ReadAt > TimeSpan.FromMinutes(1))
            {
                _fileToken = cached = ((await File.ReadAllTextAsync(file, cancellationToken)).Trim(), DateTime.UtcNow);
            }

            return new AuthenticationHeaderValue("Bearer", cached.Token);
        }

        if (_connection.BearerToken is { Length: > 0 } token)
        {
            return new AuthenticationHeaderValue("Bearer", token);
        }

        if (_connection.Username is { Length: > 0 } username)
        {
            return new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{_connection.Password}")));
        }

        return null;
    }

    private static StringContent JsonContent(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");

    private static string WriteQuery(WriteOptions? options, bool force = false) => Query(
        ("dryRun", options?.DryRun == true ? "All" : null),
        ("fieldManager", options?.FieldManager),
        ("force", force ? "true" : null));

    /// <summary>A query string of the given parameters, skipping null ones.</summary>
    public static string Query(params (string Name, string? Value)[] parameters)
    {
        var present = parameters.Where(parameter => parameter.Value is not null).ToList();
        return present.Count == 0
            ? string.Empty
            : "?" + string.Join('&', present.Select(parameter => $"{parameter.Name}={Uri.EscapeDataString(parameter.Value!)}"));
    }

    private static SocketsHttpHandler CreateHandler(ClusterConnection connection, KubernetesClientOptions options)
    {
        var handler = new SocketsHttpHandler
        {
            UseProxy = false,
            UseCookies = false,
            AllowAutoRedirect = false,
            ConnectTimeout = options.ConnectTimeout,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            PooledConnectionLifetime = TimeSpan.FromMinutes(10),
            AutomaticDecompression = DecompressionMethods.GZip,
        };
        var ssl = new SslClientAuthenticationOptions();
        if (connection.TlsServerName is { Length: > 0 } serverName)
        {
            ssl.TargetHost = serverName;
        }

        if (connection is { ClientCertificatePem: { } certificatePem, ClientKeyPem: { } keyPem })
        {
            X509Certificate2 certificate;
            try
            {
                using var pem = X509Certificate2.CreateFromPem(certificatePem, keyPem);
                // Re-imported so the private key is usable by the TLS stack on every platform.
                certificate = X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
            }
            catch (System.Security.Cryptography.CryptographicException exception)
            {
                throw new FormatException("The client certificate or key is not valid PEM, or they do not match", exception);
            }

            ssl.ClientCertificates = new X509CertificateCollection { certificate };
        }

        if (connection.InsecureSkipTlsVerify)
        {
            ssl.RemoteCertificateValidationCallback = (_, _, _, _) => true;
        }
        else if (connection.CertificateAuthorityPem is { Length: > 0 } caPem)
        {
            var roots = new X509Certificate2Collection();
            try
            {
                roots.ImportFromPem(caPem);
            }
            catch (System.Security.Cryptography.CryptographicException exception)
            {
                throw new FormatException("The CA certificate is not valid PEM", exception);
            }

            if (roots.Count == 0)
            {
                throw new FormatException("The CA data holds no certificate");
            }

            ssl.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedBy(roots, certificate, errors);
        }

        handler.SslOptions = ssl;
        return handler;
    }

    // The server certificate must name the host and chain to one of the cluster's own CA certificates.
    private static bool TrustedBy(X509Certificate2Collection roots, X509Certificate? certificate, SslPolicyErrors errors)
    {
        if (certificate is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.AddRange(roots);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        var leaf = certificate as X509Certificate2 ?? X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        return chain.Build(leaf);
    }
}
