using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Tests.Support.Kubernetes;

/// <summary>A failure the fake answers as a Kubernetes <c>Status</c>.</summary>
public sealed class FakeStatusException(int code, string reason, string message, JsonObject? details = null) : Exception(message)
{
    public int Code { get; } = code;

    public string Reason { get; } = reason;

    public JsonObject? Details { get; } = details;

    public JsonObject ToStatus() => new()
    {
        ["kind"] = "Status",
        ["apiVersion"] = "v1",
        ["metadata"] = new JsonObject(),
        ["status"] = "Failure",
        ["message"] = Message,
        ["reason"] = Reason,
        ["details"] = Details?.DeepClone() ?? new JsonObject(),
        ["code"] = Code,
    };
}

/// <summary>
/// The fake API server's memory: objects of every registered type in every namespace, one cluster-wide
/// resourceVersion counter, a history of changes for watches (older entries can be compacted away, as etcd does),
/// field ownership for server-side apply, pod logs and files behind service proxies. Tests read and change objects
/// directly here ("a change made in the cluster") and see what the service did through HTTP.
/// </summary>
public sealed class FakeStore
{
    private const int HistoryLimit = 20_000;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, FakeResourceType> _types = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedDictionary<string, Stored>> _objects = new(StringComparer.Ordinal);
    private readonly List<HistoryEntry> _history = [];
    private readonly List<FakeWatcher> _watchers = [];
    private readonly Dictionary<string, List<string>> _logs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _proxyFiles = new(StringComparer.Ordinal);
    private long _revision = 1000;
    private long _compactedThrough;

    public FakeStore()
    {
        foreach (var type in FakeResourceTypes.All)
        {
            RegisterType(type);
        }
    }

    public IReadOnlyCollection<FakeResourceType> Types
    {
        get
        {
            lock (_gate)
            {
                return [.. _types.Values];
            }
        }
    }

    public string CurrentResourceVersion
    {
        get
        {
            lock (_gate)
            {
                return _revision.ToString(CultureInfo.InvariantCulture);
            }
        }
    }

    /// <summary>Forgets every object, log and file and ends every watch (the next test starts clean).</summary>
    public void Clear()
    {
        lock (_gate)
        {
            foreach (var objects in _objects.Values)
            {
                objects.Clear();
            }

            foreach (var watcher in _watchers)
            {
                watcher.Complete();
            }

            _watchers.Clear();
            _history.Clear();
            _logs.Clear();
            _proxyFiles.Clear();
            _compactedThrough = _revision;
        }
    }

    public void RegisterType(FakeResourceType type)
    {
        lock (_gate)
        {
            _types[type.Key] = type;
            _objects.TryAdd(type.Key, new SortedDictionary<string, Stored>(StringComparer.Ordinal));
        }
    }

    public FakeResourceType? FindType(string group, string version, string plural)
    {
        lock (_gate)
        {
            return _types.TryGetValue($"{group}/{plural}", out var type) && type.Version == version ? type : null;
        }
    }

    public FakeResourceType TypeOf(string apiVersion, string kind)
    {
        lock (_gate)
        {
            return _types.Values.FirstOrDefault(type => type.ApiVersion == apiVersion && type.Kind == kind)
                ?? throw new InvalidOperationException($"The fake API server does not serve {kind} in {apiVersion}");
        }
    }

    public IEnumerable<FakeResourceType> TypesInGroupVersion(string group, string version)
    {
        lock (_gate)
        {
            return [.. _types.Values.Where(type => type.Group == group && type.Version == version)];
        }
    }

    /// <summary>Loads a multi-document YAML file into the store as they are (status included).</summary>
    public void LoadYaml(string yaml)
    {
        foreach (var document in YamlJson.ParseAll(yaml).OfType<JsonObject>())
        {
            Put(document);
        }
    }

    /// <summary>Loads one of the embedded fixture files (<c>flux-resources.yaml</c>, <c>cluster.yaml</c>).</summary>
    public void LoadFixture(string fileName)
    {
        var assembly = typeof(FakeStore).Assembly;
        var resource = assembly.GetManifestResourceNames().Single(name => name.EndsWith("." + fileName, StringComparison.Ordinal));
        using var stream = assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream, Encoding.UTF8);
        LoadYaml(reader.ReadToEnd());
    }

    /// <summary>Stores an object as given (a change "made in the cluster"): status kept, metadata completed.</summary>
    public JsonObject Put(JsonObject obj)
    {
        var type = TypeOf(obj["apiVersion"]?.ToString() ?? string.Empty, obj["kind"]?.ToString() ?? string.Empty);
        lock (_gate)
        {
            var copy = (JsonObject)obj.DeepClone();
            var metadata = Metadata(copy);
            var ns = type.Namespaced ? metadata["namespace"]?.ToString() ?? "default" : null;
            if (type.Namespaced)
            {
                metadata["namespace"] = ns;
            }

            var name = metadata["name"]?.ToString() ?? throw new InvalidOperationException("metadata.name is required");
            var existing = Find(type, ns, name);
            metadata["uid"] ??= existing?.Object["metadata"]?["uid"]?.DeepClone() ?? Guid.NewGuid().ToString();
            metadata["creationTimestamp"] ??= existing?.Object["metadata"]?["creationTimestamp"]?.DeepClone() ?? Now();
            metadata["generation"] ??= 1;
            metadata["resourceVersion"] = NextRevision();
            var stored = existing ?? new Stored();
            stored.Object = copy;
            _objects[type.Key][Key(ns, name)] = stored;
            Emit(type, existing is null ? "ADDED" : "MODIFIED", copy);
            return (JsonObject)copy.DeepClone();
        }
    }

    public JsonObject? Get(string apiVersion, string kind, string? @namespace, string name)
    {
        var type = TypeOf(apiVersion, kind);
        lock (_gate)
        {
            return Find(type, @namespace, name)?.Object.DeepClone() as JsonObject;
        }
    }

    public IReadOnlyList<JsonObject> All(string apiVersion, string kind)
    {
        var type = TypeOf(apiVersion, kind);
        lock (_gate)
        {
            return [.. _objects[type.Key].Values.Select(stored => (JsonObject)stored.Object.DeepClone())];
        }
    }

    /// <summary>Changes an object in place, as a controller would (status included); bumps the version and, when the
    /// spec changed, the generation.</summary>
    public JsonObject Update(string apiVersion, string kind, string? @namespace, string name, Action<JsonObject> change)
    {
        var type = TypeOf(apiVersion, kind);
        lock (_gate)
        {
            var stored = Find(type, @namespace, name) ?? throw new InvalidOperationException($"{kind} {@namespace}/{name} is not in the store");
            var before = stored.Object["spec"]?.DeepClone();
            var copy = (JsonObject)stored.Object.DeepClone();
            change(copy);
            if (!JsonNode.DeepEquals(before, copy["spec"]))
            {
                Metadata(copy)["generation"] = Generation(copy) + 1;
            }

            Metadata(copy)["resourceVersion"] = NextRevision();
            stored.Object = copy;
            Emit(type, "MODIFIED", copy);
            return (JsonObject)copy.DeepClone();
        }
    }

    public bool Remove(string apiVersion, string kind, string? @namespace, string name)
    {
        var type = TypeOf(apiVersion, kind);
        lock (_gate)
        {
            return RemoveLocked(type, @namespace, name) is not null;
        }
    }

    /// <summary>Forgets history up to now: watches from an older resourceVersion get 410 Expired.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _compactedThrough = _revision;
            _history.Clear();
        }
    }

    /// <summary>Sends a BOOKMARK to every watch that allows them.</summary>
    public void Bookmark()
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers.Where(watcher => watcher.AllowBookmarks))
            {
                watcher.Offer(new JsonObject
                {
                    ["type"] = "BOOKMARK",
                    ["object"] = new JsonObject
                    {
                        ["kind"] = watcher.Type.Kind,
                        ["apiVersion"] = watcher.Type.ApiVersion,
                        ["metadata"] = new JsonObject { ["resourceVersion"] = _revision.ToString(CultureInfo.InvariantCulture) },
                    },
                }.ToJsonString());
            }
        }
    }

    public int WatcherCount
    {
        get
        {
            lock (_gate)
            {
                return _watchers.Count;
            }
        }
    }

    /// <summary>Ends every open watch (as an API server restart would).</summary>
    public void CloseWatches()
    {
        lock (_gate)
        {
            foreach (var watcher in _watchers)
            {
                watcher.Complete();
            }

            _watchers.Clear();
        }
    }

    public void SetPodLog(string @namespace, string pod, string text, string container = "manager")
    {
        lock (_gate)
        {
            _logs[$"{@namespace}/{pod}/{container}"] = [.. text.Replace("\r\n", "\n", StringComparison.Ordinal).TrimEnd('\n').Split('\n')];
        }
    }

    public void AppendPodLog(string @namespace, string pod, string line, string container = "manager")
    {
        lock (_gate)
        {
            if (!_logs.TryGetValue($"{@namespace}/{pod}/{container}", out var lines))
            {
                _logs[$"{@namespace}/{pod}/{container}"] = lines = [];
            }

            lines.Add(line);
        }
    }

    /// <summary>Serves <paramref name="content"/> at <c>/api/v1/namespaces/{ns}/services/{service}/proxy/{path}</c>
    /// (<paramref name="service"/> as the URL names it, for example <c>source-controller:80</c>).</summary>
    public void ServeProxyFile(string @namespace, string service, string path, byte[] content)
    {
        lock (_gate)
        {
            _proxyFiles[$"{@namespace}/{service}/{path.TrimStart('/')}"] = content;
        }
    }

    internal byte[]? ProxyFile(string @namespace, string service, string path)
    {
        lock (_gate)
        {
            return _proxyFiles.GetValueOrDefault($"{@namespace}/{service}/{path.TrimStart('/')}");
        }
    }

    internal IReadOnlyList<string>? PodLog(string @namespace, string pod, string container)
    {
        lock (_gate)
        {
            return _logs.TryGetValue($"{@namespace}/{pod}/{container}", out var lines) ? [.. lines] : null;
        }
    }

    internal JsonObject GetOrThrow(FakeResourceType type, string? @namespace, string name)
    {
        lock (_gate)
        {
            return (JsonObject)(Find(type, @namespace, name) ?? throw NotFound(type, name)).Object.DeepClone();
        }
    }

    internal (List<JsonObject> Items, string ResourceVersion, string? Continue, long? Remaining) List(
        FakeResourceType type, string? @namespace, string? labelSelector, string? fieldSelector, int? limit, string? continueToken)
    {
        var labels = ParseLabels(labelSelector);
        var fields = ParseFields(fieldSelector, type);
        lock (_gate)
        {
            var offset = 0;
            if (!string.IsNullOrEmpty(continueToken))
            {
                var (tokenOffset, tokenRevision) = DecodeContinue(continueToken);
                if (tokenRevision <= _compactedThrough)
                {
                    throw new FakeStatusException(410, "Expired", "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
                }

                offset = tokenOffset;
            }

            var matching = _objects[type.Key].Values
                .Select(stored => stored.Object)
                .Where(obj => @namespace is null || obj["metadata"]?["namespace"]?.ToString() == @namespace)
                .Where(obj => FakeSelectors.MatchesLabels(obj, labels) && FakeSelectors.MatchesFields(obj, fields))
                .ToList();
            var page = matching.Skip(offset).Take(limit is > 0 ? limit.Value : int.MaxValue).Select(obj => (JsonObject)obj.DeepClone()).ToList();
            var next = offset + page.Count;
            var more = next < matching.Count;
            return (page, _revision.ToString(CultureInfo.InvariantCulture), more ? EncodeContinue(next, _revision) : null, more ? matching.Count - next : null);
        }
    }

    internal JsonObject Create(FakeResourceType type, string? @namespace, JsonObject body, string manager, bool dryRun)
    {
        CheckKind(type, body);
        lock (_gate)
        {
            var copy = (JsonObject)body.DeepClone();
            var metadata = Metadata(copy);
            var ns = Namespace(type, @namespace, metadata);
            var name = metadata["name"]?.ToString();
            if (string.IsNullOrEmpty(name) && metadata["generateName"]?.ToString() is { Length: > 0 } generateName)
            {
                name = generateName + Guid.NewGuid().ToString("N")[..5];
                metadata["name"] = name;
            }

            if (string.IsNullOrEmpty(name))
            {
                throw Invalid(type, string.Empty, "metadata.name", "Required value: name or generateName is required");
            }

            ValidateName(type, name);
            if (Find(type, ns, name) is not null)
            {
                throw new FakeStatusException(409, "AlreadyExists", $"{type.QualifiedName} \"{name}\" already exists", Details(type, name));
            }

            copy["apiVersion"] = type.ApiVersion;
            copy["kind"] = type.Kind;
            if (type.HasStatus)
            {
                copy.Remove("status");
            }

            metadata.Remove("managedFields");
            metadata["uid"] = Guid.NewGuid().ToString();
            metadata["creationTimestamp"] = Now();
            metadata["generation"] = 1;
            metadata["resourceVersion"] = dryRun ? _revision.ToString(CultureInfo.InvariantCulture) : NextRevision();
            var stored = new Stored { Object = copy };
            stored.Own(manager, "Update", Fields(copy), type.ApiVersion, Now());
            stored.WriteManagedFields();
            if (!dryRun)
            {
                _objects[type.Key][Key(ns, name)] = stored;
                Emit(type, "ADDED", copy);
            }

            return (JsonObject)copy.DeepClone();
        }
    }

    internal JsonObject Replace(FakeResourceType type, string? @namespace, string name, JsonObject body, string manager, bool dryRun, string? subresource)
    {
        CheckKind(type, body);
        lock (_gate)
        {
            var stored = Find(type, @namespace, name) ?? throw NotFound(type, name);
            var metadata = Metadata(body);
            if (metadata["name"]?.ToString() is { } bodyName && bodyName != name)
            {
                throw new FakeStatusException(400, "BadRequest", "the name of the object (" + bodyName + ") does not match the name on the URL (" + name + ")");
            }

            var version = metadata["resourceVersion"]?.ToString();
            if (string.IsNullOrEmpty(version) && type.IsCustom)
            {
                throw Invalid(type, name, "metadata.resourceVersion", "Invalid value: 0x0: must be specified for an update");
            }

            if (!string.IsNullOrEmpty(version) && version != stored.Object["metadata"]?["resourceVersion"]?.ToString())
            {
                throw Conflict(type, name);
            }

            var current = stored.Object;
            JsonObject next;
            if (subresource == "status")
            {
                next = (JsonObject)current.DeepClone();
                next["status"] = body["status"]?.DeepClone();
            }
            else
            {
                next = (JsonObject)body.DeepClone();
                next["apiVersion"] = type.ApiVersion;
                next["kind"] = type.Kind;
                if (type.HasStatus)
                {
                    next["status"] = current["status"]?.DeepClone();
                    if (next["status"] is null)
                    {
                        next.Remove("status");
                    }
                }
            }

            return Commit(type, stored, current, next, manager, "Update", dryRun);
        }
    }

    internal JsonObject Patch(FakeResourceType type, string? @namespace, string name, string contentType, string body, string? manager, bool dryRun, bool force, string? subresource)
    {
        if (contentType == KubernetesPatch.ApplyPatchType)
        {
            return Apply(type, @namespace, name, body, manager, dryRun, force);
        }

        lock (_gate)
        {
            var stored = Find(type, @namespace, name) ?? throw NotFound(type, name);
            var current = stored.Object;
            JsonNode? patched;
            try
            {
                var patch = JsonNode.Parse(body);
                patched = contentType switch
                {
                    KubernetesPatch.MergePatchType => FakePatches.Merge(current, patch),
                    KubernetesPatch.JsonPatchType => FakePatches.ApplyJsonPatch(current, patch as JsonArray ?? throw new InvalidOperationException("a JSON patch is a list of operations")),
                    KubernetesPatch.StrategicMergePatchType when !type.IsCustom => FakePatches.Merge(current, patch),
                    _ => throw new FakeStatusException(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: {KubernetesPatch.JsonPatchType}, {KubernetesPatch.MergePatchType}, {KubernetesPatch.ApplyPatchType}"),
                };
            }
            catch (System.Text.Json.JsonException exception)
            {
                throw new FakeStatusException(400, "BadRequest", "error decoding patch: " + exception.Message);
            }
            catch (InvalidOperationException exception)
            {
                throw Invalid(type, name, "patch", exception.Message);
            }

            if (patched is not JsonObject next)
            {
                throw new FakeStatusException(400, "BadRequest", "the patch did not produce an object");
            }

            var requestedVersion = (next["metadata"] as JsonObject)?["resourceVersion"]?.ToString();
            if (requestedVersion is not null && requestedVersion != current["metadata"]?["resourceVersion"]?.ToString())
            {
                throw Conflict(type, name);
            }

            if (subresource == "status")
            {
                var onlyStatus = (JsonObject)current.DeepClone();
                onlyStatus["status"] = next["status"]?.DeepClone();
                next = onlyStatus;
            }
            else if (type.HasStatus)
            {
                next["status"] = current["status"]?.DeepClone();
                if (next["status"] is null)
                {
                    next.Remove("status");
                }
            }

            return Commit(type, stored, current, next, manager ?? "unknown", "Update", dryRun);
        }
    }

    internal JsonObject Delete(FakeResourceType type, string? @namespace, string name, bool dryRun)
    {
        lock (_gate)
        {
            var stored = Find(type, @namespace, name) ?? throw NotFound(type, name);
            if (dryRun)
            {
                return (JsonObject)stored.Object.DeepClone();
            }

            // Finalizers are treated as handled at once: there is no controller here to remove them.
            return RemoveLocked(type, @namespace, name)!;
        }
    }

    /// <summary>Registers a watch; the lines already due (synthetic ADDED or replayed history) are queued first.</summary>
    internal FakeWatcher Watch(FakeResourceType type, string? @namespace, string? labelSelector, string? fieldSelector, string? resourceVersion, bool allowBookmarks)
    {
        var watcher = new FakeWatcher(type, @namespace, ParseLabels(labelSelector), ParseFields(fieldSelector, type), allowBookmarks);
        lock (_gate)
        {
            if (string.IsNullOrEmpty(resourceVersion) || resourceVersion == "0")
            {
                foreach (var stored in _objects[type.Key].Values.Where(stored => watcher.Matches(stored.Object)))
                {
                    watcher.Offer(Frame("ADDED", stored.Object));
                }
            }
            else
            {
                if (!long.TryParse(resourceVersion, NumberStyles.None, CultureInfo.InvariantCulture, out var from))
                {
                    throw new FakeStatusException(400, "BadRequest", $"invalid resource version: {resourceVersion}");
                }

                if (from < _compactedThrough)
                {
                    watcher.Offer(new JsonObject
                    {
                        ["type"] = "ERROR",
                        ["object"] = new FakeStatusException(410, "Expired", $"too old resource version: {from} ({_compactedThrough + 1})").ToStatus(),
                    }.ToJsonString());
                    watcher.Complete();
                    return watcher;
                }

                foreach (var entry in _history.Where(entry => entry.Revision > from && entry.TypeKey == type.Key && watcher.Matches(entry.Object)))
                {
                    watcher.Offer(Frame(entry.EventType, entry.Object));
                }
            }

            _watchers.Add(watcher);
            return watcher;
        }
    }

    internal void Unwatch(FakeWatcher watcher)
    {
        lock (_gate)
        {
            _watchers.Remove(watcher);
        }
    }

    private JsonObject Apply(FakeResourceType type, string? @namespace, string name, string body, string? manager, bool dryRun, bool force)
    {
        if (string.IsNullOrEmpty(manager))
        {
            throw new FakeStatusException(422, "Invalid", "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                new JsonObject { ["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueRequired", ["message"] = "Required value: is required for apply patch", ["field"] = "fieldManager" }) });
        }

        JsonObject applied;
        try
        {
            applied = YamlJson.ParseObject(body);
        }
        catch (FormatException exception)
        {
            throw new FakeStatusException(400, "BadRequest", "error decoding YAML: " + exception.Message);
        }

        CheckKind(type, applied);
        if (applied["metadata"]?["name"]?.ToString() is { } appliedName && appliedName != name)
        {
            throw new FakeStatusException(400, "BadRequest", "the name of the object (" + appliedName + ") does not match the name on the URL (" + name + ")");
        }

        lock (_gate)
        {
            var existing = Find(type, @namespace, name);
            if (existing is null)
            {
                var created = (JsonObject)applied.DeepClone();
                Metadata(created)["name"] = name;
                var result = Create(type, @namespace, created, manager, dryRun);
                if (!dryRun && Find(type, @namespace, name) is { } fresh)
                {
                    fresh.Owners.Clear();
                    fresh.Own(manager, "Apply", Fields(applied), type.ApiVersion, Now());
                    fresh.WriteManagedFields();
                    result = (JsonObject)fresh.Object.DeepClone();
                }

                return result;
            }

            var current = existing.Object;
            var next = (JsonObject)current.DeepClone();
            var leaves = Fields(applied);
            var conflicts = new List<(string Manager, string[] Path)>();
            foreach (var leaf in leaves)
            {
                foreach (var (other, paths) in existing.Owners.Where(owner => owner.Key != manager))
                {
                    if (paths.Any(path => FakePatches.Overlap(path, leaf)) && !JsonNode.DeepEquals(FakePatches.ValueAt(current, leaf), FakePatches.ValueAt(applied, leaf)))
                    {
                        conflicts.Add((other, leaf));
                    }
                }
            }

            if (conflicts.Count > 0 && !force)
            {
                var causes = new JsonArray([.. conflicts.Select(conflict => (JsonNode)new JsonObject
                {
                    ["reason"] = "FieldManagerConflict",
                    ["message"] = $"conflict with \"{conflict.Manager}\": {FakePatches.Display(conflict.Path)}",
                    ["field"] = FakePatches.Display(conflict.Path),
                })]);
                throw new FakeStatusException(409, "Conflict",
                    $"Apply failed with {conflicts.Count} conflict{(conflicts.Count == 1 ? string.Empty : "s")}: " + string.Join("; ", conflicts.Select(conflict => $"conflict with \"{conflict.Manager}\": {FakePatches.Display(conflict.Path)}")),
                    new JsonObject { ["name"] = name, ["group"] = type.Group, ["kind"] = type.Plural, ["causes"] = causes });
            }

            if (existing.Owners.TryGetValue(manager, out var previous))
            {
                foreach (var dropped in previous.Where(path => !leaves.Any(leaf => leaf.SequenceEqual(path))))
                {
                    if (!existing.Owners.Any(owner => owner.Key != manager && owner.Value.Any(other => other.SequenceEqual(dropped))))
                    {
                        FakePatches.RemoveAt(next, dropped);
                    }
                }
            }

            foreach (var leaf in leaves)
            {
                FakePatches.SetAt(next, leaf, FakePatches.ValueAt(applied, leaf));
            }

            if (type.HasStatus)
            {
                next["status"] = current["status"]?.DeepClone();
                if (next["status"] is null)
                {
                    next.Remove("status");
                }
            }

            var owners = existing.CloneOwners();
            if (force)
            {
                foreach (var (other, path) in conflicts)
                {
                    owners.Paths[other].RemoveAll(owned => FakePatches.Overlap(owned, path));
                }
            }

            owners.Paths[manager] = leaves;
            owners.Operations[manager] = "Apply";
            return CommitWithOwners(type, existing, current, next, owners, dryRun);
        }
    }

    private JsonObject Commit(FakeResourceType type, Stored stored, JsonObject current, JsonObject next, string manager, string operation, bool dryRun)
    {
        var owners = stored.CloneOwners();
        var changed = Fields(next).Where(path => path[0] != "status" && !JsonNode.DeepEquals(FakePatches.ValueAt(current, path), FakePatches.ValueAt(next, path))).ToList();
        if (changed.Count > 0)
        {
            foreach (var other in owners.Paths.Keys.Where(key => key != manager).ToList())
            {
                owners.Paths[other].RemoveAll(owned => changed.Any(path => FakePatches.Overlap(owned, path)));
            }

            if (!owners.Paths.TryGetValue(manager, out var mine))
            {
                owners.Paths[manager] = mine = [];
                owners.Operations[manager] = operation;
            }

            mine.AddRange(changed.Where(path => !mine.Any(owned => owned.SequenceEqual(path))));
        }

        return CommitWithOwners(type, stored, current, next, owners, dryRun);
    }

    private JsonObject CommitWithOwners(FakeResourceType type, Stored stored, JsonObject current, JsonObject next, Owners owners, bool dryRun)
    {
        var metadata = Metadata(next);
        var currentMetadata = Metadata(current);
        foreach (var fixedField in new[] { "uid", "creationTimestamp", "name", "namespace", "generation" })
        {
            metadata[fixedField] = currentMetadata[fixedField]?.DeepClone();
            if (metadata[fixedField] is null)
            {
                metadata.Remove(fixedField);
            }
        }

        metadata.Remove("managedFields");
        metadata["managedFields"] = currentMetadata["managedFields"]?.DeepClone();
        if (metadata["managedFields"] is null)
        {
            metadata.Remove("managedFields");
        }

        metadata["resourceVersion"] = currentMetadata["resourceVersion"]?.DeepClone();
        if (JsonNode.DeepEquals(current, next) && owners.SameAs(stored))
        {
            return (JsonObject)current.DeepClone();
        }

        if (!JsonNode.DeepEquals(current["spec"], next["spec"]))
        {
            metadata["generation"] = Generation(current) + 1;
        }

        var candidate = new Stored { Object = next };
        candidate.SetOwners(owners, type.ApiVersion, Now());
        candidate.WriteManagedFields();
        if (dryRun)
        {
            return (JsonObject)next.DeepClone();
        }

        metadata["resourceVersion"] = NextRevision();
        stored.Object = next;
        stored.SetOwners(owners, type.ApiVersion, Now());
        stored.WriteManagedFields();
        Emit(type, "MODIFIED", next);
        return (JsonObject)next.DeepClone();
    }

    private JsonObject? RemoveLocked(FakeResourceType type, string? @namespace, string name)
    {
        var key = Key(type.Namespaced ? @namespace : null, name);
        if (!_objects[type.Key].Remove(key, out var stored))
        {
            return null;
        }

        Metadata(stored.Object)["resourceVersion"] = NextRevision();
        Emit(type, "DELETED", stored.Object);
        return (JsonObject)stored.Object.DeepClone();
    }

    private void Emit(FakeResourceType type, string eventType, JsonObject obj)
    {
        var snapshot = (JsonObject)obj.DeepClone();
        _history.Add(new HistoryEntry(_revision, type.Key, eventType, snapshot));
        if (_history.Count > HistoryLimit)
        {
            _compactedThrough = _history[0].Revision;
            _history.RemoveAt(0);
        }

        var frame = Frame(eventType, snapshot);
        foreach (var watcher in _watchers.Where(watcher => watcher.Type.Key == type.Key && watcher.Matches(snapshot)))
        {
            watcher.Offer(frame);
        }
    }

    private Stored? Find(FakeResourceType type, string? @namespace, string name) =>
        _objects[type.Key].GetValueOrDefault(Key(type.Namespaced ? @namespace : null, name));

    private string NextRevision() => (++_revision).ToString(CultureInfo.InvariantCulture);

    private static string Frame(string eventType, JsonObject obj) => new JsonObject { ["type"] = eventType, ["object"] = obj.DeepClone() }.ToJsonString();

    private static string Key(string? @namespace, string name) => $"{@namespace}/{name}";

    private static string Now() => DateTime.UtcNow.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture);

    private static long Generation(JsonObject obj) => obj["metadata"]?["generation"] is JsonValue value && value.TryGetValue<long>(out var generation) ? generation : 1;

    private static JsonObject Metadata(JsonObject obj)
    {
        if (obj["metadata"] is not JsonObject metadata)
        {
            metadata = new JsonObject();
            obj["metadata"] = metadata;
        }

        return metadata;
    }

    private static List<string[]> Fields(JsonObject obj)
    {
        var copy = (JsonObject)obj.DeepClone();
        copy.Remove("apiVersion");
        copy.Remove("kind");
        copy.Remove("status");
        if (copy["metadata"] is JsonObject metadata)
        {
            foreach (var key in new[] { "name", "namespace", "uid", "resourceVersion", "generation", "creationTimestamp", "managedFields" })
            {
                metadata.Remove(key);
            }

            if (metadata.Count == 0)
            {
                copy.Remove("metadata");
            }
        }

        return copy.Count == 0 ? [] : FakePatches.Leaves(copy, []);
    }

    private static string? Namespace(FakeResourceType type, string? pathNamespace, JsonObject metadata)
    {
        if (!type.Namespaced)
        {
            return null;
        }

        var bodyNamespace = metadata["namespace"]?.ToString();
        if (bodyNamespace is not null && pathNamespace is not null && bodyNamespace != pathNamespace)
        {
            throw new FakeStatusException(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request");
        }

        var ns = pathNamespace ?? bodyNamespace ?? throw new FakeStatusException(400, "BadRequest", "a namespace is required");
        metadata["namespace"] = ns;
        return ns;
    }

    private static void CheckKind(FakeResourceType type, JsonObject body)
    {
        if (body["apiVersion"]?.ToString() is { } apiVersion && apiVersion != type.ApiVersion)
        {
            throw new FakeStatusException(400, "BadRequest", $"the API version in the data ({apiVersion}) does not match the expected API version ({type.ApiVersion})");
        }

        if (body["kind"]?.ToString() is { } kind && kind != type.Kind)
        {
            throw new FakeStatusException(400, "BadRequest", $"the kind in the data ({kind}) does not match the expected kind ({type.Kind})");
        }
    }

    private static void ValidateName(FakeResourceType type, string name)
    {
        if (name.Length > 253 || !System.Text.RegularExpressions.Regex.IsMatch(name, "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"))
        {
            throw Invalid(type, name, "metadata.name", $"Invalid value: \"{name}\": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character");
        }
    }

    private static IReadOnlyList<FakeSelectors.LabelRequirement> ParseLabels(string? selector)
    {
        try
        {
            return FakeSelectors.ParseLabels(selector);
        }
        catch (FormatException exception)
        {
            throw new FakeStatusException(400, "BadRequest", $"unable to parse requirement: {exception.Message}");
        }
    }

    private static IReadOnlyList<FakeSelectors.FieldRequirement> ParseFields(string? selector, FakeResourceType type)
    {
        try
        {
            return FakeSelectors.ParseFields(selector, type);
        }
        catch (NotSupportedException exception)
        {
            throw new FakeStatusException(400, "BadRequest", exception.Message);
        }
        catch (FormatException exception)
        {
            throw new FakeStatusException(400, "BadRequest", exception.Message);
        }
    }

    private static string EncodeContinue(int offset, long revision) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["o"] = offset, ["rv"] = revision }.ToJsonString()));

    private static (int Offset, long Revision) DecodeContinue(string token)
    {
        try
        {
            var obj = JsonNode.Parse(Encoding.UTF8.GetString(Convert.FromBase64String(token)))!;
            return (obj["o"]!.GetValue<int>(), obj["rv"]!.GetValue<long>());
        }
        catch (Exception exception) when (exception is FormatException or System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw new FakeStatusException(400, "BadRequest", "continue key is not valid: illegal base64 data");
        }
    }

    internal static FakeStatusException NotFound(FakeResourceType type, string name) =>
        new(404, "NotFound", $"{type.QualifiedName} \"{name}\" not found", Details(type, name));

    private static FakeStatusException Conflict(FakeResourceType type, string name) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {type.QualifiedName} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", Details(type, name));

    private static FakeStatusException Invalid(FakeResourceType type, string name, string field, string detail) =>
        new(422, "Invalid", $"{type.Kind}{(type.Group.Length == 0 ? string.Empty : "." + type.Group)} \"{name}\" is invalid: {field}: {detail}", new JsonObject
        {
            ["name"] = name,
            ["group"] = type.Group,
            ["kind"] = type.Kind,
            ["causes"] = new JsonArray(new JsonObject { ["reason"] = "FieldValueInvalid", ["message"] = detail, ["field"] = field }),
        });

    private static JsonObject Details(FakeResourceType type, string name) => new() { ["name"] = name, ["group"] = type.Group, ["kind"] = type.Plural };

    private sealed record HistoryEntry(long Revision, string TypeKey, string EventType, JsonObject Object);

    private sealed class Owners
    {
        public Dictionary<string, List<string[]>> Paths { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> Operations { get; } = new(StringComparer.Ordinal);

        public bool SameAs(Stored stored) =>
            Paths.Count == stored.Owners.Count && Paths.All(pair => stored.Owners.TryGetValue(pair.Key, out var other) && other.Count == pair.Value.Count
                && pair.Value.All(path => other.Any(owned => owned.SequenceEqual(path))));
    }

    private sealed class Stored
    {
        public JsonObject Object { get; set; } = new();

        public Dictionary<string, List<string[]>> Owners { get; } = new(StringComparer.Ordinal);

        private Dictionary<string, (string Operation, string ApiVersion, string Time)> Entries { get; } = new(StringComparer.Ordinal);

        public void Own(string manager, string operation, List<string[]> paths, string apiVersion, string time)
        {
            Owners[manager] = paths;
            Entries[manager] = (operation, apiVersion, time);
        }

        public Owners CloneOwners()
        {
            var owners = new Owners();
            foreach (var (manager, paths) in Owners)
            {
                owners.Paths[manager] = [.. paths];
                owners.Operations[manager] = Entries.TryGetValue(manager, out var entry) ? entry.Operation : "Update";
            }

            return owners;
        }

        public void SetOwners(Owners owners, string apiVersion, string time)
        {
            Owners.Clear();
            Entries.Clear();
            foreach (var (manager, paths) in owners.Paths.Where(pair => pair.Value.Count > 0))
            {
                Owners[manager] = paths;
                Entries[manager] = (owners.Operations.GetValueOrDefault(manager, "Update"), apiVersion, time);
            }
        }

        public void WriteManagedFields()
        {
            var entries = new JsonArray();
            foreach (var (manager, paths) in Owners)
            {
                var entry = Entries.TryGetValue(manager, out var found) ? found : (Operation: "Update", ApiVersion: string.Empty, Time: string.Empty);
                entries.Add(new JsonObject
                {
                    ["manager"] = manager,
                    ["operation"] = entry.Operation,
                    ["apiVersion"] = entry.ApiVersion,
                    ["time"] = entry.Time,
                    ["fieldsType"] = "FieldsV1",
                    ["fieldsV1"] = FakePatches.FieldsV1(paths),
                });
            }

            Metadata(Object)["managedFields"] = entries;
        }
    }
}

/// <summary>One open watch: its filter and the lines waiting to be written.</summary>
public sealed class FakeWatcher(FakeResourceType type, string? @namespace, IReadOnlyList<FakeSelectors.LabelRequirement> labels, IReadOnlyList<FakeSelectors.FieldRequirement> fields, bool allowBookmarks)
{
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });

    public FakeResourceType Type { get; } = type;

    public bool AllowBookmarks { get; } = allowBookmarks;

    public ChannelReader<string> Lines => _lines.Reader;

    public bool Matches(JsonObject obj) =>
        (@namespace is null || obj["metadata"]?["namespace"]?.ToString() == @namespace)
        && FakeSelectors.MatchesLabels(obj, labels)
        && FakeSelectors.MatchesFields(obj, fields);

    public void Offer(string line) => _lines.Writer.TryWrite(line);

    public void Complete() => _lines.Writer.TryComplete();
}
