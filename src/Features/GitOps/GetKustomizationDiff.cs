using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Flux;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Kubernetes;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Tools;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;

namespace Capstan.Features.GitOps;

/// <summary>
/// <c>GET /api/v1/flux/kustomizations/{namespace}/{name}/diff</c> (seed 000): what applying the Kustomization's source
/// now would change. The source named by <c>spec.sourceRef</c> must be Ready with an artifact; the artifact is fetched
/// through the API server's proxy to the source-controller service (at most 100 MB), unpacked, built at
/// <c>spec.path</c> with <c>kubectl kustomize</c>, and each object is compared with a server-side-apply dry run against
/// the live object. <c>{diffs: [{kind, name, namespace, desired, live, changed, error?}], timestamp, revision, summary}</c>
/// with YAML strings. 503 naming a missing kustomize tool or an unreachable artifact; 409 when the source is not ready
/// or the build fails. <c>postBuild</c> substitutions are not applied.
/// </summary>
public static partial class GetKustomizationDiff
{
    private const long MaxArtifactBytes = 100L * 1024 * 1024;
    private const long MaxUnpackedBytes = 256L * 1024 * 1024;
    private const string FieldManager = "capstan-drift-check";

    private static readonly string[] ServerMetadata = ["managedFields", "generation", "resourceVersion", "uid", "creationTimestamp", "selfLink"];
    private static readonly string[] NoisyAnnotations = ["kubectl.kubernetes.io/last-applied-configuration", "deployment.kubernetes.io/revision"];

    public sealed record Query(string ResourceType, string Namespace, string Name, string? Cluster, string? ClusterCookie) : IQuery<Response>;

    public sealed record Diff(string Kind, string Name, string? Namespace, string Desired, string? Live, bool Changed, string? Error);

    public sealed record Summary(int Total, int Changed, int Added, int Errors);

    public sealed record Response(IReadOnlyList<Diff> Diffs, long Timestamp, string? Revision, Summary Summary);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator()
        {
            RuleFor(query => query.ResourceType).Must(type => FluxResourceTypes.Resolve(type)?.Kind == "Kustomization")
                .WithMessage("Diff is available for kustomizations only");
            RuleFor(query => query.Namespace).Must(FluxGateway.IsNamespace).WithMessage(FluxGateway.NamespaceMessage);
            RuleFor(query => query.Name).Must(FluxGateway.IsName).WithMessage(FluxGateway.NameMessage);
        }
    }

    internal sealed class Handler(FluxGateway gateway, KustomizeTool kustomize, IConfiguration configuration, TimeProvider clock) : IRequestHandler<Query, Response>
    {
        public async Task<Response> Handle(Query query, CancellationToken cancellationToken)
        {
            var type = FluxGateway.ResolveType(query.ResourceType);
            var session = await gateway.OpenAsync(query.Cluster, query.ClusterCookie, cancellationToken);
            session.Access.Demand(FluxAction.Read, type.Kind, query.Namespace, session.Target);
            var client = session.Client;
            var kustomization = await client.GetAsync(type.Resource, query.Namespace, query.Name, cancellationToken);
            var (artifactUrl, revision) = await SourceArtifactAsync(client, kustomization, query.Namespace, cancellationToken);
            // Checked before downloading anything: without the tool there is nothing to compare.
            kustomize.EnsureAvailable();

            var fluxNamespace = configuration["Flux:Namespace"] ?? "flux-system";
            var archive = await DownloadAsync(client, artifactUrl, fluxNamespace, cancellationToken);
            var root = Directory.CreateTempSubdirectory("capstan-diff-");
            try
            {
                await UnpackAsync(archive, root.FullName, cancellationToken);
                var path = Path.GetFullPath(Path.Combine(root.FullName, (kustomization["spec"]?["path"]?.ToString() ?? "./").TrimStart('/')));
                if (!path.StartsWith(root.FullName, StringComparison.Ordinal) || !Directory.Exists(path))
                {
                    throw new ConflictException($"spec.path '{kustomization["spec"]?["path"]}' does not exist in the source artifact");
                }

                var rendered = await kustomize.BuildAsync(path, TimeSpan.FromSeconds(60), cancellationToken);
                var targetNamespace = kustomization["spec"]?["targetNamespace"]?.ToString();
                var diffs = new List<Diff>();
                foreach (var document in YamlJson.ParseAll(rendered).OfType<JsonObject>())
                {
                    diffs.Add(await CompareAsync(client, document, targetNamespace, query.Namespace, cancellationToken));
                }

                return new Response(
                    diffs,
                    clock.GetUtcNow().ToUnixTimeMilliseconds(),
                    revision,
                    new Summary(diffs.Count, diffs.Count(diff => diff.Changed), diffs.Count(diff => diff.Live is null && diff.Error is null), diffs.Count(diff => diff.Error is not null)));
            }
            catch (FormatException exception)
            {
                throw new ConflictException($"kustomize printed something that is not YAML: {exception.Message}");
            }
            finally
            {
                root.Delete(recursive: true);
            }
        }

        private static async Task<(string Url, string? Revision)> SourceArtifactAsync(KubernetesClient client, JsonObject kustomization, string ns, CancellationToken cancellationToken)
        {
            var reference = kustomization["spec"]?["sourceRef"] as JsonObject ?? throw new ConflictException("The Kustomization has no spec.sourceRef");
            var kind = reference["kind"]?.ToString();
            var sourceType = FluxResourceTypes.ByKind(kind) ?? throw new ConflictException($"Unsupported source kind '{kind}'");
            var sourceNamespace = reference["namespace"]?.ToString() ?? ns;
            var name = reference["name"]?.ToString() ?? string.Empty;
            var source = await client.TryGetAsync(sourceType.Resource, sourceNamespace, name, cancellationToken)
                ?? throw new NotFoundException($"Source {kind} {sourceNamespace}/{name} not found");
            if (FluxStatus.Ready(source)?.Status != "True" || source["status"]?["artifact"]?["url"]?.ToString() is not { Length: > 0 } url)
            {
                throw new ConflictException($"Source {kind} {sourceNamespace}/{name} is not ready: it has no artifact to compare with");
            }

            return (url, FluxStatus.Revision(source));
        }

        // Artifacts are served by the source-controller inside the cluster; they are fetched through the API server's
        // service proxy, and only from that service.
        private static async Task<byte[]> DownloadAsync(KubernetesClient client, string artifactUrl, string fluxNamespace, CancellationToken cancellationToken)
        {
            if (!Uri.TryCreate(artifactUrl, UriKind.Absolute, out var url) || SourceControllerHost().Match(url.Host) is not { Success: true } host || host.Groups["ns"].Value != fluxNamespace)
            {
                throw new ServiceUnavailableException($"The source artifact is not served by the source-controller in {fluxNamespace}; it cannot be fetched");
            }

            var path = KubernetesClient.ServiceProxyPath(fluxNamespace, host.Groups["service"].Value, url.IsDefaultPort ? "80" : url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), url.AbsolutePath);
            try
            {
                return await client.GetBytesAsync(path, MaxArtifactBytes, cancellationToken);
            }
            catch (KubernetesApiException exception) when (exception.StatusCode != 401)
            {
                throw new ServiceUnavailableException($"The source artifact could not be fetched from the source-controller: {exception.Message}");
            }
        }

        private static async Task UnpackAsync(byte[] archive, string destination, CancellationToken cancellationToken)
        {
            long unpacked = 0;
            try
            {
                await using var gzip = new GZipStream(new MemoryStream(archive), CompressionMode.Decompress);
                await using var reader = new TarReader(gzip);
                while (await reader.GetNextEntryAsync(copyData: false, cancellationToken) is { } entry)
                {
                    var target = Path.GetFullPath(Path.Combine(destination, entry.Name.TrimStart('/')));
                    if (!target.StartsWith(destination + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    {
                        continue;
                    }

                    if (entry.EntryType is TarEntryType.Directory)
                    {
                        Directory.CreateDirectory(target);
                    }
                    else if (entry.EntryType is TarEntryType.RegularFile or TarEntryType.V7RegularFile && entry.DataStream is { } data)
                    {
                        unpacked += entry.Length;
                        if (unpacked > MaxUnpackedBytes)
                        {
                            throw new ConflictException("The source artifact unpacks to more than 256 MB");
                        }

                        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                        await using var file = File.Create(target);
                        await data.CopyToAsync(file, cancellationToken);
                    }
                }
            }
            catch (Exception exception) when (exception is InvalidDataException or FormatException or EndOfStreamException)
            {
                throw new ConflictException("The source artifact is not a readable tar.gz archive");
            }
        }

        private static async Task<Diff> CompareAsync(KubernetesClient client, JsonObject document, string? targetNamespace, string kustomizationNamespace, CancellationToken cancellationToken)
        {
            var kind = document["kind"]?.ToString() ?? string.Empty;
            var name = document["metadata"]?["name"]?.ToString() ?? string.Empty;
            var apiVersion = document["apiVersion"]?.ToString() ?? string.Empty;
            var resource = await client.ResolveKindAsync(apiVersion, kind, cancellationToken);
            if (resource is null)
            {
                return new Diff(kind, name, document["metadata"]?["namespace"]?.ToString(), YamlJson.Serialize(Clean(document)), null, true, $"{kind} ({apiVersion}) is not served by the cluster");
            }

            string? ns = null;
            if (resource.Namespaced)
            {
                ns = targetNamespace ?? document["metadata"]?["namespace"]?.ToString() ?? kustomizationNamespace;
                document["metadata"]!["namespace"] = ns;
            }

            var live = await client.TryGetAsync(resource, ns, name, cancellationToken);
            var cleanLive = live is null ? null : Clean(live);
            try
            {
                var desired = Clean(await client.PatchAsync(resource, ns, name, KubernetesPatch.Apply(document), cancellationToken, new WriteOptions { DryRun = true, FieldManager = FieldManager, Force = true }));
                return new Diff(kind, name, ns, YamlJson.Serialize(desired), cleanLive is null ? null : YamlJson.Serialize(cleanLive), !JsonNode.DeepEquals(desired, cleanLive), null);
            }
            catch (KubernetesApiException exception)
            {
                return new Diff(kind, name, ns, YamlJson.Serialize(Clean(document)), cleanLive is null ? null : YamlJson.Serialize(cleanLive), true, exception.Message);
            }
        }

        private static JsonObject Clean(JsonObject obj)
        {
            var copy = (JsonObject)obj.DeepClone();
            copy.Remove("status");
            if (copy["metadata"] is JsonObject metadata)
            {
                foreach (var field in ServerMetadata)
                {
                    metadata.Remove(field);
                }

                if (metadata["annotations"] is JsonObject annotations)
                {
                    foreach (var annotation in NoisyAnnotations)
                    {
                        annotations.Remove(annotation);
                    }

                    if (annotations.Count == 0)
                    {
                        metadata.Remove("annotations");
                    }
                }
            }

            return copy;
        }
    }

    [GeneratedRegex(@"^(?<service>source-controller)\.(?<ns>[a-z0-9-]+)\.svc(\.cluster\.local)?\.?$")]
    private static partial Regex SourceControllerHost();

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapGet("/api/v1/flux/{resourceType}/{namespace}/{name}/diff", async (
                    string resourceType, string @namespace, string name, bool? force, string? cluster, HttpRequest request, HttpResponse response, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    var diff = await mediator.Send(new Query(resourceType, @namespace, name, cluster, request.Cookies[ClusterDirectory.CookieName]), cancellationToken);
                    response.Headers.CacheControl = force == true ? "no-store, private" : "private, max-age=30";
                    return TypedResults.Ok(diff);
                })
                .RequirePermission(Permissions.FluxRead)
                .WithName(nameof(GetKustomizationDiff))
                .WithTags(GitOpsRoutes.Diagnostics)
                .WithSummary("Drift between a Kustomization's source and the cluster")
                .ProducesErrors(400, 401, 403, 404, 409, 503);
    }
}
