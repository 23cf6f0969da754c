using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Capstan.Infrastructure.Delivery;

/// <summary>
/// Turns a Compose file into canvas nodes and edges (reference §13, <c>node_converter.go</c>), the analysis the import
/// routes return:
/// 1. each declared, non-external named volume → a PVC node (10Gi, ReadWriteOnce, Filesystem);
/// 2. a service's environment splits into a ConfigMap node <c>&lt;svc&gt;-config</c> and a Secret node
///    <c>&lt;svc&gt;-secrets</c> by name (PASSWORD, SECRET, KEY, TOKEN, …); secret values are never kept;
/// 3. a StatefulSet for database-like images or services mounting a named volume, else a Deployment;
/// 4. published ports → a Service node (NodePort when a host port is published);
/// 5. edges configmap/secret/pvc/service → workload, and dependency → dependent workload for <c>depends_on</c>
///    (the upstream parsed depends_on and dropped it);
/// 6. names sanitised to DNS labels; 9. a column layout.
/// Nodes carry <c>templateId: core/&lt;type&gt;</c> (the upstream wrote the id without the prefix, which its own
/// executor could not find). The workload reads its ConfigMap and Secret as environment variables (<c>envFrom</c>),
/// as the Compose service did.
/// </summary>
public static partial class ComposeImport
{
    private static readonly string[] SensitivePatterns =
    [
        "PASSWORD", "SECRET", "KEY", "TOKEN", "API_KEY", "APIKEY", "CREDENTIALS", "AUTH", "PRIVATE", "CERT", "CERTIFICATE", "DATABASE_URL",
        "DB_PASSWORD", "REDIS_PASSWORD", "MONGO_PASSWORD", "POSTGRES_PASSWORD", "MYSQL_PASSWORD", "AWS_SECRET", "GCP_KEY", "AZURE_KEY",
    ];

    private static readonly string[] StatefulImages =
    [
        "postgres", "postgresql", "mysql", "mariadb", "mongodb", "mongo", "redis", "memcached", "elasticsearch", "cassandra", "couchdb", "couchbase",
        "neo4j", "influxdb", "timescaledb", "cockroachdb", "clickhouse", "kafka", "zookeeper", "rabbitmq", "nats", "etcd", "consul", "minio",
    ];

    public const string MaskedValue = "********";

    public static bool IsSensitive(string name) => SensitivePatterns.Any(pattern => name.Contains(pattern, StringComparison.OrdinalIgnoreCase));

    public static bool IsStatefulImage(string image) => StatefulImages.Any(pattern => image.Contains(pattern, StringComparison.OrdinalIgnoreCase));

    /// <summary>Rule 6: lower case, <c>_</c> → <c>-</c>, other characters dropped, <c>-</c> trimmed, <c>svc-</c> before a
    /// leading digit, at most 63 characters, <c>service-&lt;8&gt;</c> when nothing is left.</summary>
    public static string Sanitize(string name)
    {
        var lower = name.ToLowerInvariant().Replace('_', '-');
        var kept = new string([.. lower.Where(c => c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-')]).Trim('-');
        if (kept.Length > 0 && char.IsAsciiDigit(kept[0]))
        {
            kept = "svc-" + kept;
        }

        if (kept.Length > 63)
        {
            kept = kept[..63].TrimEnd('-');
        }

        return kept.Length > 0 ? kept : "service-" + Guid.NewGuid().ToString("N")[..8];
    }

    /// <summary>Parses <paramref name="yaml"/> and builds the analysis (camelCase, the upstream's ImportAnalysis).</summary>
    public static JsonObject Analyze(string yaml, string @namespace) => Analyze(ComposeFile.Parse(yaml), @namespace, "docker-compose");

    public static JsonObject Analyze(ComposeModel model, string @namespace, string detectedType)
    {
        var ns = string.IsNullOrWhiteSpace(@namespace) ? "default" : @namespace.Trim();
        var nodes = new JsonArray();
        var edges = new JsonArray();
        var positions = new JsonObject();
        var warnings = new List<string>(model.Warnings);
        var needsBuild = false;

        void Place(JsonObject node, double x, double y)
        {
            var id = node["id"]!.ToString();
            node["position"] = new JsonObject { ["x"] = x, ["y"] = y };
            positions[id] = new JsonObject { ["x"] = x, ["y"] = y };
            nodes.Add(node);
        }

        void Edge(string source, string target) =>
            edges.Add(new JsonObject { ["id"] = "edge-" + Guid.NewGuid().ToString("N")[..12], ["source"] = source, ["target"] = target, ["type"] = "smoothstep" });

        // Rule 1: named volumes become PVCs (placed next to the first workload using them, below).
        var pvcIds = new Dictionary<string, string>(StringComparer.Ordinal);
        var pvcNodes = new Dictionary<string, JsonObject>(StringComparer.Ordinal);
        foreach (var volume in model.Volumes.Where(volume => !volume.External))
        {
            var id = NodeId("pvc", volume.Name);
            pvcIds[volume.Name] = id;
            pvcNodes[volume.Name] = Node(id, ManifestRenderer.Pvc, new JsonObject
            {
                ["name"] = Sanitize(volume.Name),
                ["namespace"] = ns,
                ["storage"] = "10Gi",
                ["accessModes"] = new JsonArray("ReadWriteOnce"),
                ["storageClassName"] = string.Empty,
                ["volumeMode"] = "Filesystem",
                ["templateId"] = "core/persistentvolumeclaim",
            });
        }

        var external = model.Volumes.Where(volume => volume.External).Select(volume => volume.Name).ToHashSet(StringComparer.Ordinal);
        foreach (var volume in external)
        {
            warnings.Add($"External volume '{volume}' is not imported: create a PersistentVolumeClaim named '{Sanitize(volume)}' yourself");
        }

        var workloadIds = new Dictionary<string, string>(StringComparer.Ordinal);
        var configRow = 0;
        var serviceRow = 0;
        var placedPvcs = new HashSet<string>(StringComparer.Ordinal);
        foreach (var service in model.Services)
        {
            if (model.Errors.Any(error => error.Service == service.Name))
            {
                continue;
            }

            var name = Sanitize(service.Name);
            var image = service.Image ?? $"{name}:latest";
            needsBuild |= service.Image is null;

            // Rule 2: environment split by name.
            string? configId = null;
            string? secretId = null;
            var plain = service.Environment.Where(pair => !IsSensitive(pair.Key)).ToList();
            var sensitive = service.Environment.Where(pair => IsSensitive(pair.Key)).ToList();
            if (plain.Count > 0)
            {
                configId = NodeId("configmap", service.Name);
                var data = new JsonObject();
                foreach (var (key, value) in plain)
                {
                    data[key] = value;
                }

                Place(Node(configId, ManifestRenderer.ConfigMap, new JsonObject
                {
                    ["name"] = $"{name}-config",
                    ["namespace"] = ns,
                    ["data"] = data,
                    ["mountPath"] = "/etc/config",
                    ["templateId"] = "core/configmap",
                }), 100, 100 + (200 * configRow++));
            }

            if (sensitive.Count > 0)
            {
                secretId = NodeId("secret", service.Name);
                Place(Node(secretId, ManifestRenderer.Secret, new JsonObject
                {
                    ["name"] = $"{name}-secrets",
                    ["namespace"] = ns,
                    ["keys"] = new JsonArray([.. sensitive.Select(pair => (JsonNode)new JsonObject { ["id"] = Guid.NewGuid().ToString(), ["name"] = pair.Key })]),
                    ["secretType"] = "Opaque",
                    ["mountPath"] = "/etc/secrets",
                    ["templateId"] = "core/secret",
                }), 100, 100 + (200 * configRow++));
                warnings.Add($"Values of {string.Join(", ", sensitive.Select(pair => pair.Key))} ({service.Name}) are not kept: enter them when the workflow runs");
            }

            // Rule 3: StatefulSet or Deployment.
            var namedVolumes = service.Volumes.Where(mount => mount.Type == "volume" && pvcIds.ContainsKey(mount.Source)).ToList();
            var stateful = IsStatefulImage(image) || namedVolumes.Count > 0;
            var kind = stateful ? ManifestRenderer.StatefulSet : ManifestRenderer.Deployment;
            var workloadId = NodeId(kind, service.Name);
            workloadIds[service.Name] = workloadId;
            var workload = new JsonObject
            {
                ["name"] = name,
                ["namespace"] = ns,
                ["image"] = image,
                ["replicas"] = service.Replicas,
                ["port"] = service.Ports.FirstOrDefault()?.ContainerPort ?? 0,
                ["templateId"] = "core/" + kind,
            };
            if (stateful)
            {
                workload["serviceName"] = name;
            }

            workload["_linkedConfigMaps"] = new JsonArray([.. new[] { configId }.OfType<string>().Select(id => (JsonNode)id)]);
            workload["_linkedSecrets"] = new JsonArray([.. new[] { secretId }.OfType<string>().Select(id => (JsonNode)id)]);
            workload["_linkedPVCs"] = new JsonArray([.. namedVolumes.Select(mount => (JsonNode)pvcIds[mount.Source]).DistinctBy(node => node!.ToString())]);
            var envFrom = new JsonArray();
            if (configId is not null)
            {
                envFrom.Add(new JsonObject { ["type"] = "configMap", ["name"] = $"{name}-config", ["nodeId"] = configId });
            }

            if (secretId is not null)
            {
                envFrom.Add(new JsonObject { ["type"] = "secret", ["name"] = $"{name}-secrets", ["nodeId"] = secretId });
            }

            if (envFrom.Count > 0)
            {
                workload["envFrom"] = envFrom;
            }

            if (namedVolumes.Count > 0)
            {
                workload["volumeMounts"] = new JsonArray([.. namedVolumes.Select(mount => (JsonNode)new JsonObject
                {
                    ["type"] = "persistentVolumeClaim",
                    ["name"] = Sanitize(mount.Source),
                    ["mountPath"] = mount.Target,
                    ["nodeId"] = pvcIds[mount.Source],
                    ["readOnly"] = mount.ReadOnly,
                })]);
            }

            var resources = Resources(service);
            if (resources.Count > 0)
            {
                workload["resources"] = resources;
            }

            if (service.Healthcheck is { } healthcheck && Probe(healthcheck) is { } command)
            {
                workload["livenessProbe"] = new JsonObject
                {
                    ["exec"] = new JsonObject { ["command"] = Strings(command) },
                    ["initialDelaySeconds"] = Seconds(healthcheck.StartPeriod) ?? 30,
                    ["periodSeconds"] = Seconds(healthcheck.Interval) ?? 10,
                };
                workload["readinessProbe"] = new JsonObject
                {
                    ["exec"] = new JsonObject { ["command"] = Strings(command) },
                    ["initialDelaySeconds"] = 5,
                    ["periodSeconds"] = 5,
                };
            }

            if (service.Entrypoint.Count > 0)
            {
                workload["command"] = Strings(service.Entrypoint);
                if (service.Command.Count > 0)
                {
                    workload["args"] = Strings(service.Command);
                }
            }
            else if (service.Command.Count > 0)
            {
                workload["command"] = Strings(service.Command);
            }

            // Rule 4: a Service for published ports; the workload sits on its row.
            double workloadY;
            if (service.Ports.Count > 0)
            {
                var serviceId = NodeId("service", service.Name);
                var first = service.Ports[0];
                var published = service.Ports.Any(port => port.HostPort is not null);
                var data = new JsonObject
                {
                    ["name"] = name,
                    ["namespace"] = ns,
                    ["serviceType"] = published ? "NodePort" : "ClusterIP",
                    ["port"] = first.HostPort ?? first.ContainerPort,
                    ["targetPort"] = first.ContainerPort,
                    ["targetApp"] = name,
                    ["_linkedDeployment"] = workloadId,
                    ["templateId"] = "core/service",
                };
                if (service.Ports.Count > 1)
                {
                    data["ports"] = new JsonArray([.. service.Ports.Select((port, index) => (JsonNode)new JsonObject
                    {
                        ["name"] = index == 0 ? "http" : $"port-{port.ContainerPort}",
                        ["protocol"] = port.Protocol.ToUpperInvariant(),
                        ["port"] = port.HostPort ?? port.ContainerPort,
                        ["targetPort"] = port.ContainerPort,
                    })]);
                }

                workloadY = 100 + (200 * serviceRow++);
                Place(Node(serviceId, ManifestRenderer.Service, data), 400, workloadY);
                Edge(serviceId, workloadId);
            }
            else
            {
                workloadY = 100 + (200 * serviceRow++);
            }

            Place(Node(workloadId, kind, workload), 700, workloadY);
            if (configId is not null)
            {
                Edge(configId, workloadId);
            }

            if (secretId is not null)
            {
                Edge(secretId, workloadId);
            }

            foreach (var volume in namedVolumes.Select(mount => mount.Source).Distinct(StringComparer.Ordinal))
            {
                if (placedPvcs.Add(volume))
                {
                    Place(pvcNodes[volume], 1000, workloadY);
                }

                Edge(pvcIds[volume], workloadId);
            }
        }

        // Volumes no service mounts still become PVCs, below the rest.
        var lowest = nodes.OfType<JsonObject>().Select(node => NodeData.Number(node["position"]?["y"]) ?? 0).DefaultIfEmpty(0).Max();
        foreach (var (volume, node) in pvcNodes.Where(pair => !placedPvcs.Contains(pair.Key)))
        {
            lowest += 200;
            Place(node, 1000, lowest);
        }

        // depends_on: dependency → dependent, so the dependency is applied first.
        foreach (var service in model.Services)
        {
            foreach (var dependency in service.DependsOn)
            {
                if (workloadIds.TryGetValue(dependency, out var source) && workloadIds.TryGetValue(service.Name, out var target))
                {
                    Edge(source, target);
                }
            }
        }

        return new JsonObject
        {
            ["detectedType"] = detectedType,
            ["services"] = new JsonArray([.. model.Services.Select(ServiceJson)]),
            ["volumes"] = new JsonArray([.. model.Volumes.Select(volume => (JsonNode)new JsonObject
            {
                ["name"] = volume.Name,
                ["driver"] = volume.Driver,
                ["external"] = volume.External,
                ["labels"] = Map(volume.Labels),
            })]),
            ["networks"] = new JsonArray([.. model.Networks.Select(network => (JsonNode)new JsonObject
            {
                ["name"] = network.Name,
                ["driver"] = network.Driver,
                ["external"] = network.External,
            })]),
            ["warnings"] = Strings(warnings),
            ["errors"] = new JsonArray([.. model.Errors.Select(error => (JsonNode)new JsonObject
            {
                ["code"] = error.Code,
                ["message"] = error.Message,
                ["service"] = error.Service,
                ["field"] = error.Field,
            })]),
            ["suggestedNodes"] = nodes,
            ["suggestedEdges"] = edges,
            ["layoutPositions"] = positions,
            ["needsBuild"] = needsBuild,
        };
    }

    /// <summary>The analysis' view of a service; values of sensitive variables are masked (the analysis is kept with
    /// import sessions and must not hold secrets).</summary>
    private static JsonObject ServiceJson(ComposeService service)
    {
        var environment = new JsonObject();
        foreach (var (key, value) in service.Environment)
        {
            environment[key] = IsSensitive(key) && value.Length > 0 ? MaskedValue : value;
        }

        return new JsonObject
        {
            ["name"] = service.Name,
            ["image"] = service.Image,
            ["build"] = service.Build is { } build
                ? new JsonObject { ["context"] = build.Context, ["dockerfile"] = build.Dockerfile, ["args"] = Map(build.Args), ["target"] = build.Target }
                : null,
            ["ports"] = new JsonArray([.. service.Ports.Select(port => (JsonNode)new JsonObject
            {
                ["hostIp"] = port.HostIp,
                ["hostPort"] = port.HostPort,
                ["containerPort"] = port.ContainerPort,
                ["protocol"] = port.Protocol,
            })]),
            ["environment"] = environment,
            ["envFile"] = Strings(service.EnvFile),
            ["volumes"] = new JsonArray([.. service.Volumes.Select(mount => (JsonNode)new JsonObject
            {
                ["source"] = mount.Source,
                ["target"] = mount.Target,
                ["readonly"] = mount.ReadOnly,
                ["type"] = mount.Type,
            })]),
            ["dependsOn"] = Strings(service.DependsOn),
            ["command"] = Strings(service.Command),
            ["entrypoint"] = Strings(service.Entrypoint),
            ["networks"] = Strings(service.Networks),
            ["replicas"] = service.Replicas,
            ["healthcheck"] = service.Healthcheck is { } healthcheck
                ? new JsonObject
                {
                    ["test"] = Strings(healthcheck.Test),
                    ["interval"] = healthcheck.Interval,
                    ["timeout"] = healthcheck.Timeout,
                    ["retries"] = healthcheck.Retries,
                    ["startPeriod"] = healthcheck.StartPeriod,
                }
                : null,
            ["labels"] = Map(service.Labels),
            ["resources"] = new JsonObject
            {
                ["limits"] = new JsonObject { ["cpus"] = service.Limits.Cpus, ["memory"] = service.Limits.Memory },
                ["reservations"] = new JsonObject { ["cpus"] = service.Reservations.Cpus, ["memory"] = service.Reservations.Memory },
            },
            ["restart"] = service.Restart,
            ["workingDir"] = service.WorkingDir,
        };
    }

    private static JsonObject Resources(ComposeService service)
    {
        var resources = new JsonObject();
        foreach (var (section, values) in new[] { ("limits", service.Limits), ("requests", service.Reservations) })
        {
            var entry = new JsonObject();
            if (values.Cpus is { } cpus && decimal.TryParse(cpus, NumberStyles.Float, CultureInfo.InvariantCulture, out var cpu) && cpu > 0)
            {
                entry["cpu"] = cpu >= 1 && cpu == Math.Floor(cpu) ? ((long)cpu).ToString(CultureInfo.InvariantCulture) : $"{(long)Math.Round(cpu * 1000)}m";
            }

            if (values.Memory is { } memory && Memory(memory) is { } quantity)
            {
                entry["memory"] = quantity;
            }

            if (entry.Count > 0)
            {
                resources[section] = entry;
            }
        }

        return resources;
    }

    /// <summary>Compose memory (<c>512m</c>, <c>1g</c>, <c>1024k</c>, <c>2gb</c>, bytes) as a Kubernetes quantity.</summary>
    public static string? Memory(string value)
    {
        var match = MemorySyntax().Match(value.Trim());
        if (!match.Success)
        {
            return null;
        }

        var number = match.Groups["n"].Value;
        return match.Groups["u"].Value.ToLowerInvariant().TrimEnd('b') switch
        {
            "k" => number + "Ki",
            "m" => number + "Mi",
            "g" => number + "Gi",
            "t" => number + "Ti",
            _ => number,
        };
    }

    /// <summary>The probe command of a healthcheck: <c>CMD</c> runs its arguments, <c>CMD-SHELL</c> runs them in a shell.</summary>
    private static List<string>? Probe(ComposeHealthcheck healthcheck)
    {
        var test = healthcheck.Test;
        return test[0] switch
        {
            "CMD" => test.Count > 1 ? test[1..] : null,
            "CMD-SHELL" => test.Count > 1 ? ["/bin/sh", "-c", string.Join(' ', test[1..])] : null,
            _ => test,
        };
    }

    /// <summary>Compose durations (<c>30s</c>, <c>1m30s</c>, <c>500ms</c>) in whole seconds.</summary>
    public static long? Seconds(string? duration)
    {
        if (string.IsNullOrWhiteSpace(duration))
        {
            return null;
        }

        double total = 0;
        var matched = false;
        foreach (Match part in DurationPart().Matches(duration.Trim()))
        {
            matched = true;
            var amount = double.Parse(part.Groups["n"].Value, CultureInfo.InvariantCulture);
            total += part.Groups["u"].Value switch
            {
                "h" => amount * 3600,
                "m" => amount * 60,
                "s" => amount,
                "ms" => amount / 1000,
                "us" => amount / 1_000_000,
                _ => 0,
            };
        }

        return matched ? Math.Max(1, (long)Math.Round(total)) : null;
    }

    private static JsonObject Node(string id, string type, JsonObject data) => new() { ["id"] = id, ["type"] = type, ["data"] = data };

    private static string NodeId(string kind, string name) => $"{kind}-{Sanitize(name)}-{Guid.NewGuid().ToString("N")[..8]}";

    private static JsonArray Strings(IEnumerable<string> values) => new([.. values.Select(value => (JsonNode)value)]);

    private static JsonObject Map(Dictionary<string, string> values)
    {
        var obj = new JsonObject();
        foreach (var (key, value) in values)
        {
            obj[key] = value;
        }

        return obj;
    }

    [GeneratedRegex("^(?<n>\\d+)(?<u>[bkmgtBKMGT][bB]?)?$")]
    private static partial Regex MemorySyntax();

    [GeneratedRegex("(?<n>\\d+(\\.\\d+)?)(?<u>ms|us|h|m|s)")]
    private static partial Regex DurationPart();
}
