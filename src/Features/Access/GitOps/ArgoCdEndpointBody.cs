using System.Text.Json.Serialization;

namespace Capstan.Features.Access.GitOps;

/// <summary>An ArgoCD endpoint as the integration routes return it: never the token (stored envelope-encrypted).</summary>
public sealed record ArgoCdEndpointBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("name")] string Name,
    [property: JsonPropertyName("environment_id")] Guid? EnvironmentId,
    [property: JsonPropertyName("base_url")] string BaseUrl,
    [property: JsonPropertyName("tls_server_name")] string? TlsServerName,
    [property: JsonPropertyName("tls_ca_configured")] bool TlsCaConfigured,
    [property: JsonPropertyName("enabled")] bool Enabled,
    [property: JsonPropertyName("last_health_at")] DateTime? LastHealthAt,
    [property: JsonPropertyName("health_error")] string? HealthError,
    [property: JsonPropertyName("kms_key_id")] string KmsKeyId,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt)
{
    public const string Columns = """
        id, name, environment_id, base_url, tls_server_name, tls_ca_pem IS NOT NULL AS tls_ca_configured, enabled, last_health_at,
        last_health_error AS health_error, kms_key_id, created_at, updated_at
        """;
}

/// <summary>A mapping from a provider connection or secret mapping to an ArgoCD application.</summary>
public sealed record AppMappingBody(
    [property: JsonPropertyName("id")] Guid Id,
    [property: JsonPropertyName("secret_mapping_id")] Guid? SecretMappingId,
    [property: JsonPropertyName("provider_connection_id")] Guid? ProviderConnectionId,
    [property: JsonPropertyName("argocd_endpoint_id")] Guid ArgocdEndpointId,
    [property: JsonPropertyName("application_name")] string ApplicationName,
    [property: JsonPropertyName("application_namespace")] string? ApplicationNamespace,
    [property: JsonPropertyName("project_name")] string? ProjectName,
    [property: JsonPropertyName("cluster_name")] string? ClusterName,
    [property: JsonPropertyName("enabled")] bool Enabled,
    [property: JsonPropertyName("created_at")] DateTime CreatedAt,
    [property: JsonPropertyName("updated_at")] DateTime UpdatedAt)
{
    public const string Columns = """
        id, secret_mapping_id, provider_connection_id, argocd_endpoint_id, application_name, application_namespace, project_name, cluster_name,
        enabled, created_at, updated_at
        """;
}
