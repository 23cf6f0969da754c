namespace Capstan.Infrastructure.Kubernetes;

/// <summary>OIDC credentials (kubeconfig <c>auth-provider: oidc</c>, or KubeOrch's <c>oidc</c> auth type): the API
/// server accepts the issuer's ID token, which is refreshed with the refresh token when missing or expired.</summary>
public sealed record OidcCredentials(
    string IssuerUrl,
    string ClientId,
    string? ClientSecret,
    string? RefreshToken,
    string? IdToken,
    string? Scopes);

/// <summary>
/// How to reach and authenticate to one Kubernetes API server: what a kubeconfig context, an in-cluster service
/// account or a registered cluster's credentials resolve to. Certificates and keys are PEM text.
/// </summary>
public sealed record ClusterConnection
{
    public const string ServiceAccountDirectory = "/var/run/secrets/kubernetes.io/serviceaccount";

    public required Uri Server { get; init; }

    /// <summary>PEM bundle of the CA certificates the server's certificate must chain to; null trusts the system store.</summary>
    public string? CertificateAuthorityPem { get; init; }

    public bool InsecureSkipTlsVerify { get; init; }

    /// <summary>Name to verify the server certificate against, when it differs from the server's host.</summary>
    public string? TlsServerName { get; init; }

    public string? BearerToken { get; init; }

    /// <summary>A token file re-read as it rotates (projected service-account tokens).</summary>
    public string? TokenFile { get; init; }

    public string? ClientCertificatePem { get; init; }

    public string? ClientKeyPem { get; init; }

    public string? Username { get; init; }

    public string? Password { get; init; }

    public OidcCredentials? Oidc { get; init; }

    /// <summary>The context's default namespace, if it names one.</summary>
    public string? Namespace { get; init; }

    public string? ContextName { get; init; }

    /// <summary>True when running in a pod (<c>KUBERNETES_SERVICE_HOST</c> is set and the token is mounted).</summary>
    public static bool InClusterAvailable =>
        !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST"))
        && File.Exists(Path.Combine(ServiceAccountDirectory, "token"));

    /// <summary>The pod's own service account: API server from <c>KUBERNETES_SERVICE_HOST/PORT</c>, token and CA from
    /// the mounted secret.</summary>
    /// <exception cref="InvalidOperationException">Not running inside a cluster.</exception>
    public static ClusterConnection InCluster()
    {
        var host = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_HOST");
        var port = Environment.GetEnvironmentVariable("KUBERNETES_SERVICE_PORT") is { Length: > 0 } p ? p : "443";
        var tokenFile = Path.Combine(ServiceAccountDirectory, "token");
        if (string.IsNullOrEmpty(host) || !File.Exists(tokenFile))
        {
            throw new InvalidOperationException("Not running inside a Kubernetes cluster (no KUBERNETES_SERVICE_HOST or service-account token)");
        }

        var caFile = Path.Combine(ServiceAccountDirectory, "ca.crt");
        var namespaceFile = Path.Combine(ServiceAccountDirectory, "namespace");
        var hostPart = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;
        return new ClusterConnection
        {
            Server = new Uri($"https://{hostPart}:{port}"),
            TokenFile = tokenFile,
            CertificateAuthorityPem = File.Exists(caFile) ? File.ReadAllText(caFile) : null,
            Namespace = File.Exists(namespaceFile) ? File.ReadAllText(namespaceFile).Trim() : null,
            ContextName = "in-cluster",
        };
    }

    /// <summary>Which kind of credential this connection presents (for display; never the credential itself).</summary>
    public string Describe() =>
        Oidc is not null ? "oidc"
        : ClientCertificatePem is not null ? "certificate"
        : TokenFile is not null ? "serviceaccount"
        : BearerToken is not null ? "token"
        : Username is not null ? "basic"
        : "none";
}
