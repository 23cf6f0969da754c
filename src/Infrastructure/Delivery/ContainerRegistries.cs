using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;

namespace Capstan.Infrastructure.Delivery;

/// <summary>A registry's credentials, sealed as one JSON document (never returned): username/password (Docker Hub,
/// GHCR, custom), access keys and region (ECR), a service-account key (GCR/Artifact Registry), a service principal
/// (ACR).</summary>
public sealed record RegistryCredentials
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull };

    public string? Username { get; init; }

    public string? Password { get; init; }

    public string? AccessKeyId { get; init; }

    public string? SecretAccessKey { get; init; }

    public string? Region { get; init; }

    public string? ServiceAccountJson { get; init; }

    public string? TenantId { get; init; }

    public string? ClientId { get; init; }

    public string? ClientSecret { get; init; }

    public byte[] Seal(EnvelopeCipher cipher, Guid registryId) => cipher.EncryptString(JsonSerializer.Serialize(this, Json), $"delivery.registries:{registryId}");

    public static RegistryCredentials Open(EnvelopeCipher cipher, Guid registryId, byte[] sealedCredentials) =>
        JsonSerializer.Deserialize<RegistryCredentials>(cipher.DecryptString(sealedCredentials, $"delivery.registries:{registryId}"), Json) ?? new RegistryCredentials();

    /// <summary>The fields each registry type needs (reference §11); returns what is missing.</summary>
    public IReadOnlyList<string> Missing(string registryType, string? registryUrl)
    {
        var missing = new List<string>();
        void Need(string field, string? value)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                missing.Add(field);
            }
        }

        switch (registryType)
        {
            case ContainerRegistries.DockerHub or ContainerRegistries.Ghcr:
                Need("username", Username);
                Need("password", Password);
                break;
            case ContainerRegistries.Ecr:
                Need("accessKeyId", AccessKeyId);
                Need("secretAccessKey", SecretAccessKey);
                Need("region", Region);
                Need("registryUrl", registryUrl);
                break;
            case ContainerRegistries.Gcr:
                Need("serviceAccountJson", ServiceAccountJson);
                break;
            case ContainerRegistries.Acr:
                Need("registryUrl", registryUrl);
                Need("clientId", ClientId);
                Need("clientSecret", ClientSecret);
                break;
            case ContainerRegistries.Custom:
                Need("registryUrl", registryUrl);
                Need("username", Username);
                Need("password", Password);
                break;
        }

        return missing;
    }

    /// <summary>The username and password a registry accepts over the Docker protocol; null for ECR, whose password is
    /// a short-lived token from the AWS API.</summary>
    public (string Username, string Password)? BasicAuth(string registryType) => registryType switch
    {
        ContainerRegistries.Gcr when ServiceAccountJson is { Length: > 0 } key => ("_json_key", key),
        ContainerRegistries.Acr when ClientId is { Length: > 0 } id => (id, ClientSecret ?? string.Empty),
        ContainerRegistries.Ecr => null,
        _ when Username is { Length: > 0 } user => (user, Password ?? string.Empty),
        _ => null,
    };
}

/// <summary>A registry row as the primitives need it.</summary>
public sealed class RegistryRecord
{
    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string RegistryType { get; init; } = string.Empty;

    public string RegistryUrl { get; init; } = string.Empty;

    public bool IsDefault { get; init; }

    public byte[] Credentials { get; init; } = [];
}

/// <summary>
/// Container registries: which kind of registry an image lives in (reference §11's detection), which configured
/// registry serves it (same type; the one whose URL names the image's host, else the default, else the oldest), the
/// registry's Docker API endpoint and the <c>kubernetes.io/dockerconfigjson</c> pull secret a workload uses.
/// </summary>
public static class ContainerRegistries
{
    public const string DockerHub = "dockerhub";
    public const string Ghcr = "ghcr";
    public const string Ecr = "ecr";
    public const string Gcr = "gcr";
    public const string Acr = "acr";
    public const string Custom = "custom";

    public static IReadOnlyList<string> Types { get; } = [DockerHub, Ghcr, Ecr, Gcr, Acr, Custom];

    /// <summary>The registry host of an image (<c>docker.io</c> for Docker Hub short names).</summary>
    public static string HostOf(string image)
    {
        var first = image.Split('/')[0];
        return !image.Contains('/', StringComparison.Ordinal) || (!first.Contains('.', StringComparison.Ordinal) && !first.Contains(':', StringComparison.Ordinal) && first != "localhost")
            ? "docker.io"
            : first.ToLowerInvariant();
    }

    public static string TypeOf(string image)
    {
        var host = HostOf(image.Trim());
        return host switch
        {
            "docker.io" or "index.docker.io" or "registry-1.docker.io" => DockerHub,
            "ghcr.io" => Ghcr,
            "public.ecr.aws" => Ecr,
            _ when host.EndsWith(".azurecr.io", StringComparison.Ordinal) => Acr,
            _ when host.Contains(".dkr.ecr.", StringComparison.Ordinal) && host.EndsWith(".amazonaws.com", StringComparison.Ordinal) => Ecr,
            "gcr.io" => Gcr,
            _ when host.EndsWith(".gcr.io", StringComparison.Ordinal) || host.EndsWith("-docker.pkg.dev", StringComparison.Ordinal) => Gcr,
            _ => Custom,
        };
    }

    /// <summary>The host part of a registry URL (<c>https://registry.example.com:5000/v2</c> → <c>registry.example.com:5000</c>).</summary>
    public static string? UrlHost(string? url)
    {
        if (string.IsNullOrWhiteSpace(url))
        {
            return null;
        }

        var text = url.Contains("://", StringComparison.Ordinal) ? url.Trim() : "https://" + url.Trim();
        return Uri.TryCreate(text, UriKind.Absolute, out var uri) ? uri.Authority.ToLowerInvariant() : null;
    }

    /// <summary>The Docker Registry API base of a registry: its URL when it has one, else the type's public endpoint.</summary>
    public static Uri? ApiBase(string registryType, string? registryUrl)
    {
        if (!string.IsNullOrWhiteSpace(registryUrl))
        {
            var text = registryUrl.Contains("://", StringComparison.Ordinal) ? registryUrl.Trim() : "https://" + registryUrl.Trim();
            return Uri.TryCreate(text, UriKind.Absolute, out var uri) ? new Uri(uri.GetLeftPart(UriPartial.Authority) + "/") : null;
        }

        return registryType switch
        {
            DockerHub => new Uri("https://registry-1.docker.io/"),
            Ghcr => new Uri("https://ghcr.io/"),
            Gcr => new Uri("https://gcr.io/"),
            _ => null,
        };
    }

    /// <summary>Picks the registry for an image among <paramref name="registries"/>: same type, then host match,
    /// default, oldest.</summary>
    public static RegistryRecord? Pick(IEnumerable<RegistryRecord> registries, string image)
    {
        var type = TypeOf(image);
        var host = HostOf(image);
        return registries
            .Where(registry => registry.RegistryType == type)
            .OrderByDescending(registry => UrlHost(registry.RegistryUrl) == host)
            .ThenByDescending(registry => registry.IsDefault)
            .FirstOrDefault();
    }

    /// <summary>Every registry, oldest first (the order <see cref="Pick"/> falls back on).</summary>
    public static Task<List<RegistryRecord>> AllAsync(DbSession db, CancellationToken cancellationToken) =>
        db.QueryAsync<RegistryRecord>(
            "SELECT id, name, registry_type, registry_url, is_default, credentials FROM delivery.registries ORDER BY created_at, id",
            null,
            cancellationToken);

    /// <summary>What the UI shows as where images go: the account on Docker Hub and GHCR, else the host.</summary>
    public static string? Preview(string type, string? url, RegistryCredentials credentials) => type switch
    {
        DockerHub => $"docker.io/{credentials.Username}",
        Ghcr => $"ghcr.io/{credentials.Username?.ToLowerInvariant()}",
        _ => UrlHost(url),
    };

    /// <summary>The name of the pull secret of a registry: <c>kubeorch-registry-&lt;name&gt;</c> as a DNS name.</summary>
    public static string PullSecretName(string registryName)
    {
        var clean = new string([.. registryName.ToLowerInvariant().Select(c => char.IsAsciiLetterOrDigit(c) ? c : '-')]).Trim('-');
        var name = "kubeorch-registry-" + (clean.Length > 0 ? clean : "default");
        return name.Length <= 253 ? name : name[..253].TrimEnd('-');
    }

    /// <summary>The server key of <c>.dockerconfigjson</c> for an image.</summary>
    public static string DockerConfigServer(string image) => HostOf(image) == "docker.io" ? "https://index.docker.io/v1/" : HostOf(image);

    /// <summary>A <c>kubernetes.io/dockerconfigjson</c> Secret holding the registry's login for
    /// <paramref name="server"/>.</summary>
    public static JsonObject PullSecretManifest(string name, string @namespace, string server, string username, string password, Guid? workflowId)
    {
        var auth = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}"));
        var config = new JsonObject
        {
            ["auths"] = new JsonObject
            {
                [server] = new JsonObject { ["username"] = username, ["password"] = password, ["auth"] = auth },
            },
        };
        var labels = new JsonObject { ["app"] = name, ["managed-by"] = ManifestRenderer.ManagedBy };
        if (workflowId is { } id)
        {
            labels[ManifestRenderer.WorkflowLabel] = id.ToString();
        }

        return new JsonObject
        {
            ["apiVersion"] = "v1",
            ["kind"] = "Secret",
            ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = @namespace, ["labels"] = labels },
            ["type"] = "kubernetes.io/dockerconfigjson",
            ["data"] = new JsonObject { [".dockerconfigjson"] = Convert.ToBase64String(Encoding.UTF8.GetBytes(config.ToJsonString())) },
        };
    }
}

/// <summary>A registry as KubeOrch's clients read it (camelCase); credentials never leave the server.</summary>
public sealed record RegistryView
{
    public Guid Id { get; init; }

    public string Name { get; init; } = string.Empty;

    public string RegistryType { get; init; } = string.Empty;

    public string RegistryUrl { get; init; } = string.Empty;

    public string? PreviewUrl { get; init; }

    public string Status { get; init; } = string.Empty;

    public bool IsDefault { get; init; }

    public DateTime? LastCheck { get; init; }

    public string? LastError { get; init; }

    public DateTime CreatedAt { get; init; }

    public DateTime UpdatedAt { get; init; }

    public const string Columns = "id, name, registry_type, registry_url, preview_url, status, is_default, last_check, last_error, created_at, updated_at";
}
