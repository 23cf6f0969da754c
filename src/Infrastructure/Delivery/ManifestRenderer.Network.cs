using System.Text.Json.Nodes;

namespace Capstan.Infrastructure.Delivery;

public static partial class ManifestRenderer
{
    private static JsonObject RenderService(Target target)
    {
        var data = target.Data;
        var manifest = Manifest("v1", "Service", target, Labels(target));
        var type = data.Str("serviceType") ?? data.Str("type") ?? "ClusterIP";
        var spec = new JsonObject { ["type"] = type };
        var selector = Pairs(data.Map("selector"));
        spec["selector"] = selector.Count > 0 ? selector : new JsonObject { ["app"] = data.Str("targetApp") };
        var ports = new JsonArray();
        foreach (var port in (data.Arr("ports") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
        {
            if (port.Long("port") is not { } number)
            {
                continue;
            }

            var entry = new JsonObject
            {
                ["name"] = port.StrOr("name", ports.Count == 0 ? "http" : $"port-{number}"),
                ["protocol"] = port.StrOr("protocol", "TCP"),
                ["port"] = number,
                ["targetPort"] = TargetPort(port, number),
            };
            if (type is "NodePort" or "LoadBalancer")
            {
                SetIf(entry, "nodePort", port.Long("nodePort"));
            }

            ports.Add(entry);
        }

        if (ports.Count == 0)
        {
            var number = data.Long("port") ?? 80;
            var entry = new JsonObject
            {
                ["name"] = "http",
                ["protocol"] = data.StrOr("protocol", "TCP"),
                ["port"] = number,
                ["targetPort"] = TargetPort(data, number),
            };
            if (type is "NodePort" or "LoadBalancer")
            {
                SetIf(entry, "nodePort", data.Long("nodePort"));
            }

            ports.Add(entry);
        }

        spec["ports"] = ports;
        if (data.Str("sessionAffinity") == "ClientIP")
        {
            spec["sessionAffinity"] = "ClientIP";
            spec["sessionAffinityConfig"] = new JsonObject
            {
                ["clientIP"] = new JsonObject { ["timeoutSeconds"] = data.Long("sessionAffinityTimeout") ?? 10800 },
            };
        }

        if (type == "LoadBalancer")
        {
            SetIf(spec, "loadBalancerIP", data.Str("loadBalancerIP"));
            SetIf(spec, "loadBalancerSourceRanges", Strings(data.Strings("loadBalancerSourceRanges")));
        }

        if (type is "NodePort" or "LoadBalancer")
        {
            SetIf(spec, "externalTrafficPolicy", data.Str("externalTrafficPolicy"));
        }

        manifest["spec"] = spec;
        return manifest;
    }

    /// <summary>A numeric target port, or a named one (<c>http</c>); defaults to the port itself.</summary>
    private static JsonNode TargetPort(NodeData data, long port) =>
        data.Long("targetPort") is { } number ? number
        : data.Str("targetPort") is { } named ? JsonValue.Create(named)
        : port;

    private static JsonObject RenderIngress(Target target)
    {
        var data = target.Data;
        var manifest = Manifest("networking.k8s.io/v1", "Ingress", target, Labels(target));
        var spec = new JsonObject();
        SetIf(spec, "ingressClassName", data.Str("ingressClassName"));
        var host = data.Str("host");
        if (data.Bool("tlsEnabled") == true)
        {
            var hosts = data.Strings("tlsHosts");
            if (hosts.Count == 0 && host is not null)
            {
                hosts.Add(host);
            }

            var tls = new JsonObject { ["hosts"] = Strings(hosts) };
            SetIf(tls, "secretName", data.Str("tlsSecretName") ?? $"{target.Name}-tls");
            spec["tls"] = Array([tls]);
        }

        var paths = new JsonArray();
        foreach (var path in IngressPaths(data))
        {
            var backendPort = path.Long("servicePort") is { } number
                ? new JsonObject { ["number"] = number }
                : new JsonObject { ["name"] = path.Str("servicePort") };
            paths.Add(new JsonObject
            {
                ["path"] = path.StrOr("path", "/"),
                ["pathType"] = path.StrOr("pathType", "Prefix"),
                ["backend"] = new JsonObject
                {
                    ["service"] = new JsonObject { ["name"] = path.Str("serviceName"), ["port"] = backendPort },
                },
            });
        }

        var rule = new JsonObject();
        SetIf(rule, "host", host);
        rule["http"] = new JsonObject { ["paths"] = paths };
        spec["rules"] = Array([rule]);
        manifest["spec"] = spec;
        return manifest;
    }

    /// <summary>The ingress paths that name both a service and a port (<c>paths[]</c>, or the legacy single
    /// <c>path</c>/<c>serviceName</c>/<c>servicePort</c>).</summary>
    public static IEnumerable<NodeData> IngressPaths(NodeData data)
    {
        var listed = (data.Arr("paths") ?? []).OfType<JsonObject>().Select(path => new NodeData(path)).ToList();
        if (listed.Count == 0)
        {
            listed.Add(data);
        }

        return listed.Where(path => path.Has("serviceName") && path.Has("servicePort"));
    }

    private static JsonObject RenderHpa(Target target)
    {
        var data = target.Data;
        var manifest = Manifest("autoscaling/v2", "HorizontalPodAutoscaler", target, Labels(target));
        var metrics = new JsonArray();
        foreach (var (resource, key) in new[] { ("cpu", "targetCPUUtilization"), ("memory", "targetMemoryUtilization") })
        {
            if (data.Long(key) is { } utilization)
            {
                metrics.Add(new JsonObject
                {
                    ["type"] = "Resource",
                    ["resource"] = new JsonObject
                    {
                        ["name"] = resource,
                        ["target"] = new JsonObject { ["type"] = "Utilization", ["averageUtilization"] = utilization },
                    },
                });
            }
        }

        var spec = new JsonObject
        {
            ["scaleTargetRef"] = new JsonObject
            {
                ["apiVersion"] = "apps/v1",
                ["kind"] = data.StrOr("scaleTargetKind", "Deployment"),
                ["name"] = data.Str("scaleTargetName"),
            },
            ["minReplicas"] = data.Long("minReplicas") ?? 1,
            ["maxReplicas"] = data.Long("maxReplicas"),
            ["metrics"] = metrics,
        };
        var behavior = new JsonObject();
        if (data.Long("scaleDownStabilization") is { } down)
        {
            behavior["scaleDown"] = new JsonObject { ["stabilizationWindowSeconds"] = down };
        }

        if (data.Long("scaleUpStabilization") is { } up)
        {
            behavior["scaleUp"] = new JsonObject { ["stabilizationWindowSeconds"] = up };
        }

        SetIf(spec, "behavior", behavior);
        manifest["spec"] = spec;
        return manifest;
    }

    private static JsonObject RenderNetworkPolicy(Target target)
    {
        var data = target.Data;
        var manifest = Manifest("networking.k8s.io/v1", "NetworkPolicy", target, Labels(target));
        var spec = new JsonObject
        {
            ["podSelector"] = Selector(data.Obj("podSelector")),
            ["policyTypes"] = Strings(data.Strings("policyTypes")),
        };
        SetIf(spec, "ingress", Rules(data.Arr("ingressRules") ?? data.Arr("ingress"), "from"));
        SetIf(spec, "egress", Rules(data.Arr("egressRules") ?? data.Arr("egress"), "to"));
        manifest["spec"] = spec;
        return manifest;
    }

    /// <summary>A label selector from <c>{matchLabels, matchExpressions}</c> or a flat label map (the canvas's form,
    /// which the upstream template dropped).</summary>
    private static JsonObject Selector(JsonObject? selector)
    {
        if (selector is null || selector.Count == 0)
        {
            return new JsonObject();
        }

        var data = new NodeData(selector);
        if (data.Obj("matchLabels") is not null || data.Arr("matchExpressions") is not null)
        {
            var result = new JsonObject();
            SetIf(result, "matchLabels", Pairs(data.Map("matchLabels")));
            SetIf(result, "matchExpressions", data.Arr("matchExpressions")?.DeepClone());
            return result;
        }

        return new JsonObject { ["matchLabels"] = Pairs(NodeData.StringMap(selector)) };
    }

    private static JsonArray Rules(JsonArray? rules, string peersKey)
    {
        var result = new JsonArray();
        foreach (var rule in (rules ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
        {
            var entry = new JsonObject();
            var peers = new JsonArray();
            foreach (var peer in (rule.Arr(peersKey) ?? rule.Arr("peers") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
            {
                var peerEntry = new JsonObject();
                if (peer.Obj("podSelector") is { } pods)
                {
                    peerEntry["podSelector"] = Selector(pods);
                }

                if (peer.Obj("namespaceSelector") is { } namespaces)
                {
                    peerEntry["namespaceSelector"] = Selector(namespaces);
                }

                if (peer.Obj("ipBlock") is { } block && new NodeData(block).Str("cidr") is { } cidr)
                {
                    var ipBlock = new JsonObject { ["cidr"] = cidr };
                    SetIf(ipBlock, "except", Strings(new NodeData(block).Strings("except")));
                    peerEntry["ipBlock"] = ipBlock;
                }

                if (peerEntry.Count > 0)
                {
                    peers.Add(peerEntry);
                }
            }

            SetIf(entry, peersKey, peers);
            var ports = new JsonArray();
            foreach (var port in (rule.Arr("ports") ?? []).OfType<JsonObject>().Select(item => new NodeData(item)))
            {
                var portEntry = new JsonObject { ["protocol"] = port.StrOr("protocol", "TCP") };
                if (port.Long("port") is { } number)
                {
                    portEntry["port"] = number;
                }
                else if (port.Str("port") is { } named)
                {
                    portEntry["port"] = named;
                }

                ports.Add(portEntry);
            }

            SetIf(entry, "ports", ports);
            result.Add(entry);
        }

        return result;
    }
}
