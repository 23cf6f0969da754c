using System.Text;
using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Kubernetes;

/// <summary>One context of a kubeconfig, as shown to users (no credentials).</summary>
public sealed record KubeContextInfo(string Name, string Cluster, string User, string? Server, string? Namespace, bool IsCurrent);

/// <summary>
/// A parsed kubeconfig (YAML or JSON): its clusters, users and contexts. <see cref="ToConnection"/> resolves one
/// context to a <see cref="ClusterConnection"/>: bearer token, client certificate and key, basic auth or OIDC, CA
/// data, the insecure-skip flag, TLS server name and namespace. Uploaded kubeconfigs may not point at files on this
/// machine, nor run exec plugins; trusted local ones may read files.
/// </summary>
public sealed class KubeConfig
{
    private readonly Dictionary<string, JsonObject> _clusters;
    private readonly Dictionary<string, JsonObject> _users;
    private readonly Dictionary<string, JsonObject> _contexts;

    private KubeConfig(string? currentContext, Dictionary<string, JsonObject> clusters, Dictionary<string, JsonObject> users, Dictionary<string, JsonObject> contexts, List<string> contextOrder)
    {
        CurrentContext = currentContext;
        _clusters = clusters;
        _users = users;
        _contexts = contexts;
        ContextNames = contextOrder;
    }

    public string? CurrentContext { get; }

    /// <summary>Context names in file order.</summary>
    public IReadOnlyList<string> ContextNames { get; }

    /// <summary>Parses a kubeconfig; a <see cref="FormatException"/> says what is wrong with it.</summary>
    public static KubeConfig Parse(string text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            throw new FormatException("The kubeconfig is empty");
        }

        JsonObject root;
        try
        {
            root = YamlJson.ParseObject(text);
        }
        catch (FormatException exception)
        {
            throw new FormatException($"The kubeconfig is not valid YAML: {exception.Message}", exception);
        }

        if (root["kind"] is JsonValue kind && kind.ToString() != "Config")
        {
            throw new FormatException("The kubeconfig must have kind: Config");
        }

        if (root["apiVersion"] is JsonValue apiVersion && apiVersion.ToString() != "v1")
        {
            throw new FormatException("The kubeconfig must have apiVersion: v1");
        }

        var clusters = Named(root, "clusters", "cluster");
        var users = Named(root, "users", "user");
        var contextOrder = new List<string>();
        var contexts = Named(root, "contexts", "context", contextOrder);
        if (clusters.Count == 0)
        {
            throw new FormatException("The kubeconfig has no clusters");
        }

        if (contexts.Count == 0)
        {
            throw new FormatException("The kubeconfig has no contexts");
        }

        var current = Text(root, "current-context");
        return new KubeConfig(string.IsNullOrEmpty(current) ? null : current, clusters, users, contexts, contextOrder);
    }

    /// <summary>The contexts with the cluster server and namespace each one points at.</summary>
    public IReadOnlyList<KubeContextInfo> Contexts() =>
    [
        .. ContextNames.Select(name =>
        {
            var context = _contexts[name];
            var clusterName = Text(context, "cluster") ?? string.Empty;
            var server = _clusters.TryGetValue(clusterName, out var cluster) ? Text(cluster, "server") : null;
            return new KubeContextInfo(name, clusterName, Text(context, "user") ?? string.Empty, server, Text(context, "namespace"), name == CurrentContext);
        }),
    ];

    /// <summary>The context to use when none is asked for: the current context, else the only/first one.</summary>
    public string DefaultContext => CurrentContext is { } current && _contexts.ContainsKey(current) ? current : ContextNames[0];

    public bool HasContext(string name) => _contexts.ContainsKey(name);

    /// <summary>Resolves <paramref name="contextName"/> (default: <see cref="DefaultContext"/>) to a connection.</summary>
    /// <param name="allowLocalFiles">Whether file references (<c>certificate-authority</c>, <c>client-key</c>,
    /// <c>tokenFile</c>) may be read: only for kubeconfigs that come from this machine, never for uploaded ones.</param>
    public ClusterConnection ToConnection(string? contextName = null, bool allowLocalFiles = false)
    {
        var name = string.IsNullOrEmpty(contextName) ? DefaultContext : contextName;
        if (!_contexts.TryGetValue(name, out var context))
        {
            throw new FormatException($"The kubeconfig has no context named '{name}'");
        }

        var clusterName = Text(context, "cluster") ?? throw new FormatException($"Context '{name}' names no cluster");
        if (!_clusters.TryGetValue(clusterName, out var cluster))
        {
            throw new FormatException($"Context '{name}' refers to cluster '{clusterName}', which the kubeconfig does not define");
        }

        var userName = Text(context, "user");
        var user = userName is null ? new JsonObject() : _users.TryGetValue(userName, out var found) ? found
            : throw new FormatException($"Context '{name}' refers to user '{userName}', which the kubeconfig does not define");

        var serverText = Text(cluster, "server") ?? throw new FormatException($"Cluster '{clusterName}' has no server");
        if (!Uri.TryCreate(serverText, UriKind.Absolute, out var server) || (server.Scheme != Uri.UriSchemeHttps && server.Scheme != Uri.UriSchemeHttp))
        {
            throw new FormatException($"Cluster '{clusterName}' has an invalid server URL (expected https://host[:port])");
        }

        if (cluster["proxy-url"] is not null)
        {
            throw new FormatException($"Cluster '{clusterName}' uses proxy-url, which is not supported");
        }

        if (user["exec"] is not null)
        {
            throw new FormatException($"User '{userName}' uses an exec credential plugin, which is not supported: use a token, a client certificate or OIDC");
        }

        return new ClusterConnection
        {
            Server = server,
            CertificateAuthorityPem = DataOrFile(cluster, "certificate-authority-data", "certificate-authority", allowLocalFiles),
            InsecureSkipTlsVerify = cluster["insecure-skip-tls-verify"] is JsonValue insecure && insecure.ToString() is "true" or "True",
            TlsServerName = Text(cluster, "tls-server-name"),
            BearerToken = Text(user, "token"),
            TokenFile = TokenFile(user, allowLocalFiles),
            ClientCertificatePem = DataOrFile(user, "client-certificate-data", "client-certificate", allowLocalFiles),
            ClientKeyPem = DataOrFile(user, "client-key-data", "client-key", allowLocalFiles),
            Username = Text(user, "username"),
            Password = Text(user, "password"),
            Oidc = Oidc(user, userName),
            Namespace = Text(context, "namespace"),
            ContextName = name,
        };
    }

    private static Dictionary<string, JsonObject> Named(JsonObject root, string listName, string itemName, List<string>? order = null)
    {
        var result = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        switch (root[listName])
        {
            case null:
                return result;
            case JsonArray array:
                foreach (var entry in array)
                {
                    var name = entry is JsonObject obj ? Text(obj, "name") : null;
                    if (string.IsNullOrEmpty(name))
                    {
                        throw new FormatException($"Every entry of '{listName}' needs a name");
                    }

                    if (!result.TryAdd(name, entry![itemName] as JsonObject ?? new JsonObject()))
                    {
                        throw new FormatException($"'{listName}' defines '{name}' twice");
                    }

                    order?.Add(name);
                }

                return result;
            default:
                throw new FormatException($"'{listName}' must be a list");
        }
    }

    private static string? DataOrFile(JsonObject section, string dataKey, string fileKey, bool allowLocalFiles)
    {
        if (Text(section, dataKey) is { Length: > 0 } data)
        {
            try
            {
                return Encoding.UTF8.GetString(Convert.FromBase64String(data.Trim()));
            }
            catch (FormatException)
            {
                throw new FormatException($"'{dataKey}' is not valid base64");
            }
        }

        if (Text(section, fileKey) is not { Length: > 0 } file)
        {
            return null;
        }

        if (!allowLocalFiles)
        {
            throw new FormatException($"'{fileKey}' refers to a file on this machine; embed it as '{dataKey}' instead");
        }

        return File.Exists(file) ? File.ReadAllText(file) : throw new FormatException($"'{fileKey}' file was not found");
    }

    private static string? TokenFile(JsonObject user, bool allowLocalFiles)
    {
        if (Text(user, "tokenFile") is not { Length: > 0 } file)
        {
            return null;
        }

        return allowLocalFiles ? file : throw new FormatException("'tokenFile' refers to a file on this machine; embed the token as 'token' instead");
    }

    private static OidcCredentials? Oidc(JsonObject user, string? userName)
    {
        if (user["auth-provider"] is not JsonObject provider)
        {
            return null;
        }

        if (Text(provider, "name") != "oidc")
        {
            throw new FormatException($"User '{userName}' uses auth-provider '{Text(provider, "name")}', which is not supported (only oidc)");
        }

        var config = provider["config"] as JsonObject ?? new JsonObject();
        var issuer = Text(config, "idp-issuer-url");
        var clientId = Text(config, "client-id");
        if (string.IsNullOrEmpty(issuer) || string.IsNullOrEmpty(clientId))
        {
            throw new FormatException($"User '{userName}' has an oidc auth-provider without idp-issuer-url or client-id");
        }

        return new OidcCredentials(issuer, clientId, Text(config, "client-secret"), Text(config, "refresh-token"), Text(config, "id-token"), Text(config, "extra-scopes"));
    }

    private static string? Text(JsonObject obj, string key) => obj[key] is JsonValue value ? value.ToString() : null;
}
