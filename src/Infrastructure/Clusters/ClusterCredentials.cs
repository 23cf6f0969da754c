using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Infrastructure.Clusters;

/// <summary>The auth types a cluster registers with (KubeOrch's, plus seed 001's kubeconfig upload).</summary>
public static class ClusterAuthTypes
{
    public const string Kubeconfig = "kubeconfig";
    public const string Token = "token";
    public const string Certificate = "certificate";
    public const string ServiceAccount = "serviceaccount";
    public const string Oidc = "oidc";

    public static readonly IReadOnlyList<string> All = [Kubeconfig, Token, Certificate, ServiceAccount, Oidc];

    /// <summary>Accepts the canonical names and seed 002's <c>bearer_token</c> (= token), <c>service_account</c>,
    /// <c>client_certificate</c>; null when unknown.</summary>
    public static string? Normalise(string? value) => value?.Trim().ToLowerInvariant().Replace("-", "_", StringComparison.Ordinal) switch
    {
        "kubeconfig" => Kubeconfig,
        "token" or "bearer_token" or "bearer" => Token,
        "certificate" or "client_certificate" or "cert" => Certificate,
        "serviceaccount" or "service_account" => ServiceAccount,
        "oidc" => Oidc,
        _ => null,
    };
}

/// <summary>
/// What a registered cluster authenticates with. Stored as one JSON document, envelope-encrypted with the cluster id
/// as associated data (<see cref="Seal"/>/<see cref="Open"/>), and never returned by any route. CA and client
/// certificate data may be PEM or base64 of PEM (as kubeconfigs carry them).
/// </summary>
public sealed record ClusterCredentials
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull };

    public string? Kubeconfig { get; init; }

    public string? Context { get; init; }

    public string? Token { get; init; }

    public string? ClientCertData { get; init; }

    public string? ClientKeyData { get; init; }

    public string? CaData { get; init; }

    public string? OidcIssuerUrl { get; init; }

    public string? OidcClientId { get; init; }

    public string? OidcClientSecret { get; init; }

    public string? OidcRefreshToken { get; init; }

    public string? OidcIdToken { get; init; }

    public string? OidcScopes { get; init; }

    public byte[] Seal(Crypto.EnvelopeCipher cipher, Guid clusterId) => cipher.EncryptString(JsonSerializer.Serialize(this, Json), AssociatedData(clusterId));

    public static ClusterCredentials Open(Crypto.EnvelopeCipher cipher, Guid clusterId, byte[] sealedCredentials) =>
        JsonSerializer.Deserialize<ClusterCredentials>(cipher.DecryptString(sealedCredentials, AssociatedData(clusterId)), Json) ?? new ClusterCredentials();

    /// <summary>The connection these credentials give for a cluster of <paramref name="authType"/> at
    /// <paramref name="server"/>; a <see cref="FormatException"/> says what is missing or malformed.</summary>
    public ClusterConnection ToConnection(string authType, string? server, bool insecure, string? @namespace)
    {
        if (authType == ClusterAuthTypes.Kubeconfig)
        {
            if (string.IsNullOrWhiteSpace(Kubeconfig))
            {
                throw new FormatException("credentials.kubeconfig is required for the kubeconfig auth type");
            }

            var fromKubeconfig = KubeConfig.Parse(Kubeconfig).ToConnection(Context);
            return fromKubeconfig with
            {
                InsecureSkipTlsVerify = fromKubeconfig.InsecureSkipTlsVerify || insecure,
                Namespace = @namespace ?? fromKubeconfig.Namespace,
            };
        }

        if (authType == ClusterAuthTypes.ServiceAccount && string.IsNullOrWhiteSpace(Token))
        {
            if (!ClusterConnection.InClusterAvailable)
            {
                throw new FormatException("credentials.token is required: without one the service-account auth type uses the pod's own service account, and this service is not running inside a cluster");
            }

            return ClusterConnection.InCluster();
        }

        if (string.IsNullOrWhiteSpace(server) || !Uri.TryCreate(server, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp))
        {
            throw new FormatException("server must be the API server's URL (https://host[:port])");
        }

        var connection = new ClusterConnection
        {
            Server = uri,
            CertificateAuthorityPem = Pem(CaData, "caData"),
            InsecureSkipTlsVerify = insecure,
            Namespace = @namespace,
        };
        return authType switch
        {
            ClusterAuthTypes.Token or ClusterAuthTypes.ServiceAccount => string.IsNullOrWhiteSpace(Token)
                ? throw new FormatException("credentials.token is required for the token auth type")
                : connection with { BearerToken = Token.Trim() },
            ClusterAuthTypes.Certificate => string.IsNullOrWhiteSpace(ClientCertData) || string.IsNullOrWhiteSpace(ClientKeyData)
                ? throw new FormatException("credentials.clientCertData and credentials.clientKeyData are required for the certificate auth type")
                : connection with { ClientCertificatePem = Pem(ClientCertData, "clientCertData"), ClientKeyPem = Pem(ClientKeyData, "clientKeyData") },
            ClusterAuthTypes.Oidc => string.IsNullOrWhiteSpace(OidcIssuerUrl) || string.IsNullOrWhiteSpace(OidcClientId)
                ? throw new FormatException("credentials.oidcIssuerUrl and credentials.oidcClientId are required for the oidc auth type")
                : string.IsNullOrWhiteSpace(OidcRefreshToken) && string.IsNullOrWhiteSpace(OidcIdToken)
                    ? throw new FormatException("credentials.oidcRefreshToken (or an ID token) is required for the oidc auth type")
                    : connection with { Oidc = new OidcCredentials(OidcIssuerUrl, OidcClientId, OidcClientSecret, OidcRefreshToken, OidcIdToken, OidcScopes) },
            _ => throw new FormatException($"authType must be one of: {string.Join(", ", ClusterAuthTypes.All)}"),
        };
    }

    private static string? Pem(string? data, string field)
    {
        if (string.IsNullOrWhiteSpace(data))
        {
            return null;
        }

        if (data.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            return data;
        }

        try
        {
            return Encoding.UTF8.GetString(Convert.FromBase64String(data.Trim()));
        }
        catch (FormatException)
        {
            throw new FormatException($"credentials.{field} must be PEM or base64 of PEM");
        }
    }

    private static string AssociatedData(Guid clusterId) => $"cluster:{clusterId}";
}
