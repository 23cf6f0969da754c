using System.Net.Http.Headers;
using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Capstan.Features.Access.GitOps;

/// <summary>An ArgoCD server to read from: its URL, bearer token, and optionally a CA to trust and a TLS server name.</summary>
internal sealed record ArgoCdTarget(string BaseUrl, string Token, string? CaPem, string? ServerName);

/// <summary>An application as <c>discovered-apps</c> lists it (seed 003).</summary>
public sealed record DiscoveredApp(
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("namespace")] string? Namespace,
    [property: JsonPropertyName("project")] string? Project,
    [property: JsonPropertyName("destination_server")] string? DestinationServer,
    [property: JsonPropertyName("destination_cluster")] string? DestinationCluster,
    [property: JsonPropertyName("destination_namespace")] string? DestinationNamespace,
    [property: JsonPropertyName("health_status")] string? HealthStatus,
    [property: JsonPropertyName("sync_status")] string? SyncStatus);

/// <summary>What an observation records of an application (upstream's observed_state).</summary>
public sealed record ObservedApp(
    [property: JsonPropertyName("health_status")] string? HealthStatus,
    [property: JsonPropertyName("health_message")] string? HealthMessage,
    [property: JsonPropertyName("sync_status")] string? SyncStatus,
    [property: JsonPropertyName("sync_revision")] string? SyncRevision,
    [property: JsonPropertyName("operation_phase")] string? OperationPhase,
    [property: JsonPropertyName("resources")] IReadOnlyList<ObservedResource> Resources,
    [property: JsonPropertyName("resource_count")] int ResourceCount)
{
    /// <summary>applied when Healthy and Synced (and the last operation, if any, succeeded); failed when Degraded after a
    /// failed operation; otherwise still active.</summary>
    public string PollingState => HealthStatus == "Healthy" && SyncStatus == "Synced" && OperationPhase is null or "Succeeded"
        ? "applied"
        : HealthStatus == "Degraded" && OperationPhase is "Failed" or "Error" ? "failed" : "active";
}

public sealed record ObservedResource(
    [property: JsonPropertyName("kind")] string? Kind,
    [property: JsonPropertyName("name")] string? Name,
    [property: JsonPropertyName("namespace")] string? Namespace,
    [property: JsonPropertyName("health")] string? Health,
    [property: JsonPropertyName("message")] string? Message);

/// <summary>ArgoCD answered badly or not at all; the message is safe to show (never the token).</summary>
internal sealed class ArgoCdException(string message) : Exception(message);

/// <summary>
/// A read-only ArgoCD client (secrets-bridge <c>pkg/argocd</c>): GET only — the transport refuses anything else —, a
/// bearer token, a 15-second timeout, and when configured a pinned CA and a TLS server name.
/// </summary>
internal static class ArgoCdClient
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(15);

    public static async Task<IReadOnlyList<DiscoveredApp>> ListApplicationsAsync(ArgoCdTarget target, string? project, CancellationToken cancellationToken)
    {
        var path = "api/v1/applications" + (string.IsNullOrEmpty(project) ? string.Empty : "?projects=" + Uri.EscapeDataString(project));
        using var document = await GetAsync(target, path, cancellationToken);
        if (!document.RootElement.TryGetProperty("items", out var items) || items.ValueKind != JsonValueKind.Array)
        {
            return [];
        }

        return [.. items.EnumerateArray().Select(app => new DiscoveredApp(
            Text(app, "metadata", "name") ?? string.Empty,
            Text(app, "metadata", "namespace"),
            Text(app, "spec", "project"),
            Text(app, "spec", "destination", "server"),
            Text(app, "spec", "destination", "name"),
            Text(app, "spec", "destination", "namespace"),
            Text(app, "status", "health", "status"),
            Text(app, "status", "sync", "status")))];
    }

    public static async Task<ObservedApp> GetApplicationAsync(ArgoCdTarget target, string name, string? appNamespace, CancellationToken cancellationToken)
    {
        var path = "api/v1/applications/" + Uri.EscapeDataString(name) + (string.IsNullOrEmpty(appNamespace) ? string.Empty : "?appNamespace=" + Uri.EscapeDataString(appNamespace));
        using var document = await GetAsync(target, path, cancellationToken);
        var app = document.RootElement;
        var resources = app.TryGetProperty("status", out var status) && status.TryGetProperty("resources", out var list) && list.ValueKind == JsonValueKind.Array
            ? [.. list.EnumerateArray().Select(resource => new ObservedResource(
                Text(resource, "kind"), Text(resource, "name"), Text(resource, "namespace"), Text(resource, "health", "status"), Text(resource, "health", "message")))]
            : new List<ObservedResource>();
        return new ObservedApp(
            Text(app, "status", "health", "status"),
            Text(app, "status", "health", "message"),
            Text(app, "status", "sync", "status"),
            Text(app, "status", "sync", "revision"),
            Text(app, "status", "operationState", "phase"),
            resources,
            resources.Count);
    }

    private static async Task<JsonDocument> GetAsync(ArgoCdTarget target, string relativePath, CancellationToken cancellationToken)
    {
        using var handler = new SocketsHttpHandler { ConnectTimeout = TimeSpan.FromSeconds(10), AllowAutoRedirect = false };
        if (!string.IsNullOrWhiteSpace(target.ServerName))
        {
            handler.SslOptions.TargetHost = target.ServerName;
        }

        X509Certificate2? ca = null;
        if (!string.IsNullOrWhiteSpace(target.CaPem))
        {
            ca = X509Certificate2.CreateFromPem(target.CaPem);
            handler.SslOptions.RemoteCertificateValidationCallback = (_, certificate, _, errors) => TrustedBy(ca, certificate, errors);
        }

        try
        {
            using var client = new HttpClient(new GetOnly(handler), disposeHandler: false) { Timeout = Timeout };
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(target.BaseUrl.TrimEnd('/') + "/" + relativePath));
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", target.Token);
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            using var response = await client.SendAsync(request, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                throw new ArgoCdException($"ArgoCD answered {(int)response.StatusCode} {response.ReasonPhrase}");
            }

            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            return await JsonDocument.ParseAsync(body, cancellationToken: cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            throw new ArgoCdException($"ArgoCD is unreachable: {exception.HttpRequestError}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ArgoCdException("ArgoCD did not answer within 15 seconds");
        }
        catch (JsonException)
        {
            throw new ArgoCdException("ArgoCD answered with something that is not JSON");
        }
        finally
        {
            ca?.Dispose();
        }
    }

    private static bool TrustedBy(X509Certificate2 ca, X509Certificate? presented, SslPolicyErrors errors)
    {
        if (presented is null || errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch) || errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return false;
        }

        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(ca);
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        using var certificate = new X509Certificate2(presented);
        return chain.Build(certificate);
    }

    private static string? Text(JsonElement element, params string[] path)
    {
        foreach (var segment in path)
        {
            if (element.ValueKind != JsonValueKind.Object || !element.TryGetProperty(segment, out element))
            {
                return null;
            }
        }

        return element.ValueKind == JsonValueKind.String ? element.GetString() : null;
    }

    /// <summary>The read-only transport: refuses every method but GET before anything leaves the process.</summary>
    private sealed class GetOnly(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            request.Method == HttpMethod.Get
                ? base.SendAsync(request, cancellationToken)
                : throw new InvalidOperationException("The ArgoCD client is read-only.");
    }
}
