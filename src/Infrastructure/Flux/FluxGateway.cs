using System.Text.RegularExpressions;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Security;

namespace Capstan.Infrastructure.Flux;

/// <summary>What a gitops request works with: who calls, on which cluster, what they may do there, and the client.</summary>
public sealed record FluxSession(Caller Caller, RegisteredCluster Cluster, FluxAccess Access, KubernetesClient Client)
{
    public FluxCluster Target => new(Cluster.Id, Cluster.Name);
}

/// <summary>
/// Opens a <see cref="FluxSession"/> for a gitops request: selects the cluster (<c>?cluster=</c> or a body's
/// <c>cluster</c>, else the <c>gyre_cluster</c> cookie, else the caller's default; 404 when none), loads the caller's
/// Flux RBAC and hands out the cluster's pooled client. Also the shared input rules of Flux routes (type, namespace,
/// name) with Gyre's messages.
/// </summary>
public sealed partial class FluxGateway(DbSession db, RequestContext request, ClusterDirectory directory)
{
    public async Task<FluxSession> OpenAsync(string? cluster, string? cookie, CancellationToken cancellationToken)
    {
        var caller = request.RequiredCaller;
        var selected = await directory.SelectAsync(caller, cluster, cookie, cancellationToken);
        var access = await FluxAccess.LoadAsync(db, caller, cancellationToken);
        return new FluxSession(caller, selected, access, directory.Connect(selected));
    }

    /// <summary>The type of <paramref name="name"/> (plural or Kind), or a 400 listing the valid types.</summary>
    public static FluxResourceType ResolveType(string? name) =>
        FluxResourceTypes.Resolve(name) ?? throw BadRequestException.ForField("resourceType", $"Invalid resource type: {name}. Valid types: {FluxResourceTypes.ValidTypes}");

    /// <summary>A namespace name: at most 63 lower-case letters, digits and '-', starting and ending alphanumeric.</summary>
    public static bool IsNamespace(string? value) => value is { Length: > 0 and <= 63 } && Namespace().IsMatch(value);

    /// <summary>An object name: a DNS subdomain of at most 253 characters.</summary>
    public static bool IsName(string? value) => value is { Length: > 0 and <= 253 } && Name().IsMatch(value);

    public const string NamespaceMessage = "Invalid namespace: must be lower-case letters, digits and '-', starting and ending with a letter or digit, at most 63 characters";

    public const string NameMessage = "Invalid resource name: must be a DNS subdomain (lower-case letters, digits, '-' and '.'), at most 253 characters";

    public const string TypeMessage = "Invalid resource type";

    [GeneratedRegex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")]
    private static partial Regex Namespace();

    [GeneratedRegex("^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")]
    private static partial Regex Name();
}
