using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

public static partial class ManifestRenderer
{
    private static JsonObject RenderDeployment(Target target)
    {
        var manifest = Manifest("apps/v1", "Deployment", target, Labels(target, withVersion: true));
        manifest["spec"] = new JsonObject
        {
            ["replicas"] = target.Data.Long("replicas") ?? 1,
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = target.Name } },
            ["template"] = PodTemplate(target, withVersion: true, restartPolicy: null),
        };
        return manifest;
    }

    private static JsonObject RenderStatefulSet(Target target)
    {
        var manifest = Manifest("apps/v1", "StatefulSet", target, Labels(target, withVersion: true));
        var spec = new JsonObject
        {
            ["serviceName"] = target.Data.StrOr("serviceName", target.Name),
            ["replicas"] = target.Data.Long("replicas") ?? 1,
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = target.Name } },
            ["template"] = PodTemplate(target, withVersion: true, restartPolicy: null),
        };
        var claims = new JsonArray();
        foreach (var claim in (target.Data.Arr("volumeClaimTemplates") ?? []).OfType<JsonObject>().Select(claim => new NodeData(claim)))
        {
            if (claim.Str("name") is not { } claimName)
            {
                continue;
            }

            var claimSpec = new JsonObject
            {
                ["accessModes"] = Strings(claim.Strings("accessModes") is { Count: > 0 } modes ? modes : ["ReadWriteOnce"]),
            };
            SetIf(claimSpec, "storageClassName", claim.Str("storageClassName"));
            claimSpec["resources"] = new JsonObject { ["requests"] = new JsonObject { ["storage"] = claim.StrOr("storage", "1Gi") } };
            claims.Add(new JsonObject { ["metadata"] = new JsonObject { ["name"] = claimName }, ["spec"] = claimSpec });
        }

        SetIf(spec, "volumeClaimTemplates", claims);
        manifest["spec"] = spec;
        return manifest;
    }

    private static JsonObject RenderDaemonSet(Target target)
    {
        var manifest = Manifest("apps/v1", "DaemonSet", target, Labels(target));
        var strategy = target.Data.StrOr("updateStrategy", "RollingUpdate");
        var updateStrategy = new JsonObject { ["type"] = strategy };
        if (strategy == "RollingUpdate")
        {
            updateStrategy["rollingUpdate"] = new JsonObject { ["maxUnavailable"] = target.Data.Long("maxUnavailable") ?? 1 };
        }

        manifest["spec"] = new JsonObject
        {
            ["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { ["app"] = target.Name } },
            ["updateStrategy"] = updateStrategy,
            ["template"] = PodTemplate(target, withVersion: false, restartPolicy: null),
        };
        return manifest;
    }

    private static JsonObject RenderJob(Target target)
    {
        var manifest = Manifest("batch/v1", "Job", target, Labels(target));
        var spec = new JsonObject();
        SetIf(spec, "completions", target.Data.Long("completions"));
        SetIf(spec, "parallelism", target.Data.Long("parallelism"));
        SetIf(spec, "backoffLimit", target.Data.Long("backoffLimit"));
        SetIf(spec, "activeDeadlineSeconds", target.Data.Long("activeDeadlineSeconds"));
        SetIf(spec, "ttlSecondsAfterFinished", target.Data.Long("ttlSecondsAfterFinished"));
        spec["template"] = PodTemplate(target, withVersion: false, restartPolicy: target.Data.StrOr("restartPolicy", "Never"));
        manifest["spec"] = spec;
        return manifest;
    }

    private static JsonObject RenderCronJob(Target target)
    {
        var manifest = Manifest("batch/v1", "CronJob", target, Labels(target));
        var jobSpec = new JsonObject();
        SetIf(jobSpec, "backoffLimit", target.Data.Long("backoffLimit"));
        SetIf(jobSpec, "activeDeadlineSeconds", target.Data.Long("activeDeadlineSeconds"));
        jobSpec["template"] = PodTemplate(target, withVersion: false, restartPolicy: target.Data.StrOr("restartPolicy", "OnFailure"));
        manifest["spec"] = new JsonObject
        {
            ["schedule"] = target.Data.Str("schedule"),
            ["concurrencyPolicy"] = target.Data.StrOr("concurrencyPolicy", "Allow"),
            ["suspend"] = target.Data.Bool("suspend") ?? false,
            ["successfulJobsHistoryLimit"] = target.Data.Long("successfulJobsHistoryLimit") ?? 3,
            ["failedJobsHistoryLimit"] = target.Data.Long("failedJobsHistoryLimit") ?? 1,
            ["jobTemplate"] = new JsonObject { ["spec"] = jobSpec },
        };
        return manifest;
    }

    private static JsonObject PodTemplate(Target target, bool withVersion, string? restartPolicy)
    {
        var podLabels = new JsonObject { ["app"] = target.Name };
        if (withVersion)
        {
            podLabels["version"] = "v1";
        }

        var data = target.Data;
        var (mounts, volumes) = Volumes(target);
        var spec = new JsonObject();
        if (restartPolicy is not null)
        {
            spec["restartPolicy"] = restartPolicy;
        }

        var kind = KindOf(target.Node, []);
        if (kind == DaemonSet)
        {
            SetIf(spec, "nodeSelector", Pairs(data.Map("nodeSelector")));
            SetIf(spec, "tolerations", Tolerations(data));
            if (data.Bool("hostNetwork") == true)
            {
                spec["hostNetwork"] = true;
                spec["dnsPolicy"] = "ClusterFirstWithHostNet";
            }

            if (data.Bool("hostPID") == true)
            {
                spec["hostPID"] = true;
            }
        }

        SetIf(spec, "serviceAccountName", data.Str("serviceAccountName"));
        spec["containers"] = Array([Container(target, mounts, kind)]);
        SetIf(spec, "volumes", volumes);
        var pullSecrets = PullSecretNames(data).ToList();
        if (data.Str("image") is { } image && target.Context.PullSecretFor(image) is { } auto && !pullSecrets.Contains(auto))
        {
            pullSecrets.Add(auto);
        }

        SetIf(spec, "imagePullSecrets", Array(pullSecrets.Select(secret => (JsonNode)new JsonObject { ["name"] = secret })));
        return new JsonObject { ["metadata"] = new JsonObject { ["labels"] = podLabels }, ["spec"] = spec };
    }

    private static JsonObject Container(Target target, JsonArray mounts, string? kind)
    {
        var data = target.Data;
        var container = new JsonObject
        {
            ["name"] = target.Name,
            ["image"] = data.Str("image"),
        };
        SetIf(container, "imagePullPolicy", data.Str("imagePullPolicy"));
        SetIf(container, "command", Strings(Words(data["command"])));
        SetIf(container, "args", Strings(Words(data["args"])));
        if (data.Long("port") is > 0 and var port)
        {
            container["ports"] = Array([new JsonObject { ["containerPort"] = port, ["protocol"] = "TCP", ["name"] = "http" }]);
        }

        SetIf(container, "env", Array(Environment(target, kind).Select(pair => (JsonNode)new JsonObject { ["name"] = pair.Key, ["value"] = pair.Value })));
        SetIf(container, "envFrom", EnvFrom(data));
        SetIf(container, "resources", Resources(data.Obj("resources")));
        SetIf(container, "volumeMounts", mounts);
        SetIf(container, "livenessProbe", Probe(data.Obj("livenessProbe"), data.Long("port"), 30, 10));
        SetIf(container, "readinessProbe", Probe(data.Obj("readinessProbe"), data.Long("port"), 5, 5));
        return container;
    }

    /// <summary>The node's <c>env</c> (map or list), overridden and extended by the run's <c>envVars</c> for this node;
    /// a StatefulSet running PostgreSQL or MySQL without a password setting gets the setting that lets it start.</summary>
    private static List<KeyValuePair<string, string>> Environment(Target target, string? kind)
    {
        var env = new List<KeyValuePair<string, string>>();
        void Set(string name, string value)
        {
            var index = env.FindIndex(pair => pair.Key == name);
            if (index >= 0)
            {
                env[index] = new(name, value);
            }
            else
            {
                env.Add(new(name, value));
            }
        }

        foreach (var (name, value) in target.Data.Map("env"))
        {
            Set(name, value);
        }

        if (target.Context.EnvVars.TryGetValue(target.Node.Id, out var runValues))
        {
            foreach (var (name, value) in runValues)
            {
                Set(name, value);
            }
        }

        if (kind == StatefulSet && target.Data.Str("image")?.ToLowerInvariant() is { } image)
        {
            bool Has(string name) => env.Any(pair => pair.Key == name);
            if (image.Contains("postgres", StringComparison.Ordinal) && !Has("POSTGRES_PASSWORD") && !Has("POSTGRES_HOST_AUTH_METHOD"))
            {
                Set("POSTGRES_HOST_AUTH_METHOD", "trust");
            }
            else if ((image.Contains("mysql", StringComparison.Ordinal) || image.Contains("mariadb", StringComparison.Ordinal))
                && !Has("MYSQL_ROOT_PASSWORD") && !Has("MYSQL_ALLOW_EMPTY_PASSWORD") && !Has("MYSQL_RANDOM_ROOT_PASSWORD")
                && !Has("MARIADB_ROOT_PASSWORD") && !Has("MARIADB_ALLOW_EMPTY_ROOT_PASSWORD"))
            {
                Set("MYSQL_ALLOW_EMPTY_PASSWORD", "yes");
            }
        }

        return env;
    }

    /// <summary><c>{requests:{cpu,memory}, limits:{cpu,memory}}</c> in any key case (the upstream's job, cronjob and
    /// daemonset templates read <c>.Requests.CPU</c> and rendered nothing for the canvas's lower-case keys).</summary>
    private static JsonObject Resources(JsonObject? resources)
    {
        var result = new JsonObject();
        if (resources is null)
        {
            return result;
        }

        foreach (var section in new[] { "requests", "limits" })
        {
            var values = new NodeData(NodeData.Find(resources, section) as JsonObject ?? []);
            var entry = new JsonObject();
            SetIf(entry, "cpu", values.Str("cpu"));
            SetIf(entry, "memory", values.Str("memory"));
            SetIf(result, section, entry);
        }

        return result;
    }

    private static JsonObject Probe(JsonObject? probe, long? containerPort, long initialDelay, long period)
    {
        var result = new JsonObject();
        if (probe is null || probe.Count == 0)
        {
            return result;
        }

        var data = new NodeData(probe);
        if (data.Obj("exec") is { } exec && Words(NodeData.Find(exec, "command")) is { Count: > 0 } execCommand)
        {
            result["exec"] = new JsonObject { ["command"] = Strings(execCommand) };
        }
        else if (Words(data["command"]) is { Count: > 0 } command)
        {
            result["exec"] = new JsonObject { ["command"] = Strings(command) };
        }
        else if (data.Str("path") is { } path)
        {
            result["httpGet"] = new JsonObject { ["path"] = path, ["port"] = data.Long("port") ?? containerPort ?? 80 };
        }
        else if ((data.Long("port") ?? containerPort) is { } tcpPort)
        {
            result["tcpSocket"] = new JsonObject { ["port"] = tcpPort };
        }
        else
        {
            return result;
        }

        result["initialDelaySeconds"] = data.Long("initialDelaySeconds") ?? initialDelay;
        result["periodSeconds"] = data.Long("periodSeconds") ?? period;
        SetIf(result, "timeoutSeconds", data.Long("timeoutSeconds"));
        SetIf(result, "failureThreshold", data.Long("failureThreshold"));
        return result;
    }

    /// <summary>Container mounts and pod volumes: one volume per mounted ConfigMap, Secret or PVC (named
    /// <c>&lt;source&gt;-volume</c>; ConfigMaps and Secrets read-only), and the StatefulSet's claim templates.</summary>
    private static (JsonArray Mounts, JsonArray Volumes) Volumes(Target target)
    {
        var mounts = new JsonArray();
        var volumes = new JsonArray();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var mount in (target.Data.Arr("volumeMounts") ?? []).OfType<JsonObject>().Select(mount => new NodeData(mount)))
        {
            var type = NormalizeMountType(mount.Str("type"));
            var source = mount.Str("name");
            var path = mount.Str("mountPath");
            if (type is null || source is null || path is null)
            {
                continue;
            }

            var volumeName = VolumeName(source);
            var entry = new JsonObject { ["name"] = volumeName, ["mountPath"] = path };
            SetIf(entry, "subPath", mount.Str("subPath"));
            if (type != "persistentVolumeClaim" || mount.Bool("readOnly") == true)
            {
                entry["readOnly"] = true;
            }

            mounts.Add(entry);
            if (seen.Add(volumeName))
            {
                volumes.Add(type switch
                {
                    "configMap" => new JsonObject { ["name"] = volumeName, ["configMap"] = new JsonObject { ["name"] = source } },
                    "secret" => new JsonObject { ["name"] = volumeName, ["secret"] = new JsonObject { ["secretName"] = source } },
                    _ => new JsonObject { ["name"] = volumeName, ["persistentVolumeClaim"] = new JsonObject { ["claimName"] = source } },
                });
            }
        }

        foreach (var claim in (target.Data.Arr("volumeClaimTemplates") ?? []).OfType<JsonObject>().Select(claim => new NodeData(claim)))
        {
            if (claim.Str("name") is { } claimName && claim.Str("mountPath") is { } claimPath)
            {
                mounts.Add(new JsonObject { ["name"] = claimName, ["mountPath"] = claimPath });
            }
        }

        return (mounts, volumes);
    }

    /// <summary>Volume names are DNS labels: <c>&lt;source&gt;-volume</c>, shortened to fit 63 characters.</summary>
    private static string VolumeName(string source)
    {
        var name = source.ToLowerInvariant().Replace('.', '-') + "-volume";
        return name.Length <= 63 ? name : name[..(63 - "-volume".Length)].TrimEnd('-') + "-volume";
    }

    /// <summary>ConfigMaps and Secrets read whole as environment variables: <c>envFrom[{type, name}]</c>.</summary>
    private static JsonArray EnvFrom(NodeData data)
    {
        var result = new JsonArray();
        foreach (var entry in (data.Arr("envFrom") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
        {
            if (entry.Str("name") is not { } name)
            {
                continue;
            }

            switch (NormalizeMountType(entry.Str("type")))
            {
                case "configMap":
                    result.Add(new JsonObject { ["configMapRef"] = new JsonObject { ["name"] = name } });
                    break;
                case "secret":
                    result.Add(new JsonObject { ["secretRef"] = new JsonObject { ["name"] = name } });
                    break;
            }
        }

        return result;
    }

    private static JsonArray Tolerations(NodeData data)
    {
        var result = new JsonArray();
        foreach (var toleration in (data.Arr("tolerations") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
        {
            var entry = new JsonObject();
            SetIf(entry, "key", toleration.Str("key"));
            SetIf(entry, "operator", toleration.Str("operator"));
            SetIf(entry, "value", toleration.Str("value"));
            SetIf(entry, "effect", toleration.Str("effect"));
            SetIf(entry, "tolerationSeconds", toleration.Long("tolerationSeconds"));
            if (entry.Count > 0)
            {
                result.Add(entry);
            }
        }

        return result;
    }

    private static IEnumerable<string> PullSecretNames(NodeData data) =>
        (data.Arr("imagePullSecrets") ?? [])
            .Select(item => item is JsonObject obj ? NodeData.Text(NodeData.Find(obj, "name")) : NodeData.Text(item))
            .OfType<string>()
            .Distinct(StringComparer.Ordinal);

    /// <summary>A command or argument list: an array, or a string split on whitespace.</summary>
    public static List<string> Words(JsonNode? node) => node switch
    {
        JsonArray array => [.. array.Select(NodeData.RawText).Where(word => word.Length > 0)],
        JsonValue value when NodeData.Text(value) is { } text => [.. text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)],
        _ => [],
    };
}
