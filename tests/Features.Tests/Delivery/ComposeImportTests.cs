using System.Text.Json.Nodes;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;

namespace Capstan.Features.Tests.Delivery;

/// <summary>The Compose → canvas mapping of reference §13, one rule per test, plus the strict reading of the file
/// (invalid YAML, unknown keys, oversized files).</summary>
public sealed class ComposeImportTests
{
    private const string Shop = """
        services:
          web:
            image: nginx:1.25
            ports: ["8080:80"]
            environment:
              MODE: production
              API_TOKEN: tok-Zq7-never-stored
            depends_on: [api]
          api:
            image: registry.example/api:2
            ports: ["3000"]
            environment:
              - LOG_LEVEL=info
              - DATABASE_URL=postgres://u:p@db/shop
            depends_on:
              db:
                condition: service_healthy
            deploy:
              replicas: 3
              resources:
                limits: {cpus: "0.5", memory: 512M}
          db:
            image: postgres:16
            environment:
              POSTGRES_PASSWORD: s3cret
            volumes:
              - pgdata:/var/lib/postgresql/data
            healthcheck:
              test: ["CMD-SHELL", "pg_isready -U postgres"]
              interval: 10s
          worker_2:
            image: busybox
            volumes:
              - cache:/cache:ro
              - ./local:/data
          Cache:
            image: memcached:1.6
        volumes:
          pgdata: {}
          cache: {}
          shared:
            external: true
        """;

    private static readonly JsonObject Analysis = ComposeImport.Analyze(Shop, "shop");

    private static IEnumerable<JsonObject> Nodes => Analysis["suggestedNodes"]!.AsArray().OfType<JsonObject>();

    private static JsonObject ByName(string type, string name) =>
        Nodes.Single(node => node["type"]!.ToString() == type && node["data"]!["name"]!.ToString() == name);

    private static string Id(JsonObject node) => node["id"]!.ToString();

    private static IEnumerable<(string Source, string Target)> Edges =>
        Analysis["suggestedEdges"]!.AsArray().OfType<JsonObject>().Select(edge => (edge["source"]!.ToString(), edge["target"]!.ToString()));

    [Fact]
    public void Rule_1_named_volumes_become_pvcs_and_external_ones_a_warning()
    {
        var pvc = ByName("persistentvolumeclaim", "pgdata");

        pvc["data"]!["storage"]!.ToString().ShouldBe("10Gi");
        pvc["data"]!["accessModes"]!.ToJsonString().ShouldBe("""["ReadWriteOnce"]""");
        pvc["data"]!["storageClassName"]!.ToString().ShouldBe(string.Empty);
        pvc["data"]!["volumeMode"]!.ToString().ShouldBe("Filesystem");
        pvc["data"]!["namespace"]!.ToString().ShouldBe("shop");
        Nodes.Count(node => node["type"]!.ToString() == "persistentvolumeclaim").ShouldBe(2);
        Analysis["warnings"]!.AsArray().Select(warning => warning!.ToString()).ShouldContain(warning => warning.Contains("External volume 'shared'"));
    }

    [Fact]
    public void Rule_2_environment_splits_into_a_configmap_and_a_secret_without_values()
    {
        var config = ByName("configmap", "web-config");
        var secret = ByName("secret", "web-secrets");
        var apiSecret = ByName("secret", "api-secrets");

        config["data"]!["data"]!.ToJsonString().ShouldBe("""{"MODE":"production"}""");
        config["data"]!["mountPath"]!.ToString().ShouldBe("/etc/config");
        secret["data"]!["keys"]!.AsArray().Select(key => key!["name"]!.ToString()).ShouldBe(["API_TOKEN"]);
        secret["data"]!["keys"]![0]!["id"]!.ToString().ShouldNotBeNullOrEmpty();
        secret["data"]!["secretType"]!.ToString().ShouldBe("Opaque");
        secret["data"]!["mountPath"]!.ToString().ShouldBe("/etc/secrets");
        apiSecret["data"]!["keys"]!.AsArray().Select(key => key!["name"]!.ToString()).ShouldBe(["DATABASE_URL"]);
        ByName("configmap", "api-config")["data"]!["data"]!.ToJsonString().ShouldBe("""{"LOG_LEVEL":"info"}""");
        Analysis.ToJsonString().ShouldNotContain("tok-Zq7-never-stored", Case.Sensitive, "secret values are discarded (a distinctive value: generated ids may contain short hex runs like abc)");
        Analysis.ToJsonString().ShouldNotContain("s3cret");
        Analysis.ToJsonString().ShouldNotContain("postgres://u:p@db/shop");
    }

    [Theory]
    [InlineData("DB_PASSWORD", true)]
    [InlineData("github_token", true)]
    [InlineData("AWS_SECRET_ACCESS_KEY", true)]
    [InlineData("TLS_CERT", true)]
    [InlineData("PORT", false)]
    [InlineData("LOG_LEVEL", false)]
    public void Rule_2_sensitivity_is_a_case_insensitive_substring_match(string name, bool sensitive) =>
        ComposeImport.IsSensitive(name).ShouldBe(sensitive);

    [Fact]
    public void Rule_3_databases_and_services_with_named_volumes_are_statefulsets_others_deployments()
    {
        var db = ByName("statefulset", "db");
        var worker = ByName("statefulset", "worker-2");
        var cache = ByName("statefulset", "cache");
        var web = ByName("deployment", "web");
        var api = ByName("deployment", "api");

        db["data"]!["serviceName"]!.ToString().ShouldBe("db");
        db["data"]!["templateId"]!.ToString().ShouldBe("core/statefulset", "the upstream's unprefixed id is fixed");
        web["data"]!["templateId"]!.ToString().ShouldBe("core/deployment");
        web["data"]!["image"]!.ToString().ShouldBe("nginx:1.25");
        web["data"]!["port"]!.GetValue<long>().ShouldBe(80);
        web["data"]!["replicas"]!.GetValue<long>().ShouldBe(1);
        api["data"]!["replicas"]!.GetValue<long>().ShouldBe(3);
        api["data"]!["resources"]!["limits"]!.ToJsonString().ShouldBe("""{"cpu":"500m","memory":"512Mi"}""");
        db["data"]!["volumeMounts"]!.AsArray().Single()!.ToJsonString().ShouldContain("\"mountPath\":\"/var/lib/postgresql/data\"");
        db["data"]!["_linkedPVCs"]!.AsArray().Single()!.ToString().ShouldBe(Id(ByName("persistentvolumeclaim", "pgdata")));
        db["data"]!["livenessProbe"]!["exec"]!["command"]!.ToJsonString().ShouldBe("""["/bin/sh","-c","pg_isready -U postgres"]""", "CMD-SHELL runs in a shell");
        db["data"]!["livenessProbe"]!["periodSeconds"]!.GetValue<long>().ShouldBe(10);
        worker["data"]!["volumeMounts"]!.AsArray().Single()!["readOnly"]!.GetValue<bool>().ShouldBeTrue();
        cache.ShouldNotBeNull("memcached is stateful by image");
    }

    [Theory]
    [InlineData("postgres:16", true)]
    [InlineData("bitnami/redis:7", true)]
    [InlineData("docker.io/library/mongo", true)]
    [InlineData("nginx:1.25", false)]
    public void Rule_3_stateful_images(string image, bool stateful) => ComposeImport.IsStatefulImage(image).ShouldBe(stateful);

    [Fact]
    public void Rule_4_published_ports_make_a_nodeport_service_and_bare_ports_a_clusterip_one()
    {
        var web = ByName("service", "web");
        var api = ByName("service", "api");

        web["data"]!["serviceType"]!.ToString().ShouldBe("NodePort");
        web["data"]!["port"]!.GetValue<long>().ShouldBe(8080);
        web["data"]!["targetPort"]!.GetValue<long>().ShouldBe(80);
        web["data"]!["targetApp"]!.ToString().ShouldBe("web");
        web["data"]!["_linkedDeployment"]!.ToString().ShouldBe(Id(ByName("deployment", "web")));
        api["data"]!["serviceType"]!.ToString().ShouldBe("ClusterIP");
        api["data"]!["port"]!.GetValue<long>().ShouldBe(3000);
        Nodes.Count(node => node["type"]!.ToString() == "service").ShouldBe(2, "services without ports get none");
    }

    [Fact]
    public void Rule_5_edges_lead_from_config_storage_and_services_to_workloads_and_follow_depends_on()
    {
        var web = Id(ByName("deployment", "web"));
        var api = Id(ByName("deployment", "api"));
        var db = Id(ByName("statefulset", "db"));

        Edges.ShouldContain((Id(ByName("configmap", "web-config")), web));
        Edges.ShouldContain((Id(ByName("secret", "web-secrets")), web));
        Edges.ShouldContain((Id(ByName("service", "web")), web));
        Edges.ShouldContain((Id(ByName("persistentvolumeclaim", "pgdata")), db));
        Edges.ShouldContain((api, web), "web depends on api");
        Edges.ShouldContain((db, api), "api depends on db (long form)");
        var graph = WorkflowGraph.Parse(Analysis["suggestedNodes"]!.AsArray(), Analysis["suggestedEdges"]!.AsArray());
        var order = graph.ExecutionOrder(out _)!;
        order.Select(node => node.Id).ToList().IndexOf(db).ShouldBeLessThan(order.Select(node => node.Id).ToList().IndexOf(web));
    }

    [Theory]
    [InlineData("My_Service", "my-service")]
    [InlineData("9lives", "svc-9lives")]
    [InlineData("--edge--", "edge")]
    [InlineData("a.b!c", "abc")]
    public void Rule_6_names_are_sanitised(string name, string expected) => ComposeImport.Sanitize(name).ShouldBe(expected);

    [Fact]
    public void Rule_6_long_and_empty_names_are_bounded()
    {
        ComposeImport.Sanitize(new string('a', 80)).Length.ShouldBeLessThanOrEqualTo(63);
        ComposeImport.Sanitize("___").ShouldStartWith("service-");
    }

    [Fact]
    public void Rule_7_port_forms_and_environment_forms_are_read()
    {
        var analysis = ComposeImport.Analyze("""
            services:
              app:
                image: app:1
                ports:
                  - "127.0.0.1:9000:9001/udp"
                  - 7000
                  - target: 8443
                    published: "443"
                    protocol: tcp
                environment:
                  - PLAIN=1
            """, "default");

        var service = analysis["services"]!.AsArray().Single()!;
        service["ports"]!.AsArray().Select(port => (port!["containerPort"]!.GetValue<long>(), port["hostPort"]?.GetValue<long>(), port["protocol"]!.ToString(), port["hostIp"]?.ToString()))
            .ShouldBe([(9001L, (long?)9000L, "udp", "127.0.0.1"), (7000L, null, "tcp", null), (8443L, 443L, "tcp", null)]);
        service["environment"]!.ToJsonString().ShouldBe("""{"PLAIN":"1"}""");
    }

    [Fact]
    public void Rule_8_warnings_for_bind_mounts_network_mode_and_privileged()
    {
        var analysis = ComposeImport.Analyze("""
            services:
              app:
                image: app:1
                network_mode: host
                privileged: true
                volumes: ["./src:/src"]
            """, "default");

        var warnings = string.Join('\n', analysis["warnings"]!.AsArray().Select(warning => warning!.ToString()));
        warnings.ShouldContain("bind");
        warnings.ShouldContain("network_mode");
        warnings.ShouldContain("privileged");
        Analysis["warnings"]!.AsArray().Select(warning => warning!.ToString()).ShouldContain(warning => warning.Contains("./local"));
    }

    [Fact]
    public void Rule_8_a_service_with_neither_image_nor_build_is_an_error_and_build_only_needs_a_build()
    {
        var analysis = ComposeImport.Analyze("""
            services:
              built:
                build: .
              broken:
                restart: always
            """, "default");

        analysis["errors"]!.AsArray().Single()!["code"]!.ToString().ShouldBe("SERVICE_NO_IMAGE");
        analysis["errors"]![0]!["service"]!.ToString().ShouldBe("broken");
        analysis["needsBuild"]!.GetValue<bool>().ShouldBeTrue();
        analysis["suggestedNodes"]!.AsArray().Select(node => node!["data"]!["name"]!.ToString()).ShouldBe(["built"]);
    }

    [Fact]
    public void Rule_9_layout_puts_config_left_services_middle_workloads_right_and_storage_far_right()
    {
        double X(JsonObject node) => node["position"]!["x"]!.GetValue<double>();

        X(ByName("configmap", "web-config")).ShouldBe(100);
        X(ByName("service", "web")).ShouldBe(400);
        X(ByName("deployment", "web")).ShouldBe(700);
        X(ByName("persistentvolumeclaim", "pgdata")).ShouldBe(1000);
        ByName("deployment", "web")["position"]!["y"]!.GetValue<double>().ShouldBe(ByName("service", "web")["position"]!["y"]!.GetValue<double>());
        Analysis["layoutPositions"]!.AsObject().Count.ShouldBe(Nodes.Count());
        Analysis["detectedType"]!.ToString().ShouldBe("docker-compose");
    }

    [Fact]
    public void Imported_nodes_render_with_the_workflow_renderer()
    {
        var graph = WorkflowGraph.Parse(Analysis["suggestedNodes"]!.AsArray(), Analysis["suggestedEdges"]!.AsArray());
        var context = new RenderContext { WorkflowId = Guid.CreateVersion7() };

        ManifestRenderer.Validate(graph, context).ShouldBeEmpty();
        var web = graph.Nodes.Single(node => node.Type == "deployment" && node.Data.Str("name") == "web");
        var manifest = ManifestRenderer.Render(graph, web, context).Manifests.Single();
        manifest["spec"]!["template"]!["spec"]!["containers"]![0]!["envFrom"]!.ToJsonString().ShouldBe("""[{"configMapRef":{"name":"web-config"}},{"secretRef":{"name":"web-secrets"}}]""");
    }

    [Theory]
    [InlineData("services: [a, b", "file")]
    [InlineData("- just\n- a list", "file")]
    [InlineData("services:\n  app:\n    image: a\nunknown_top: 1", "unknown_top")]
    [InlineData("services:\n  app:\n    image: a\n    imagee: typo", "services.app.imagee")]
    [InlineData("version: '3'", "services")]
    public void Invalid_yaml_and_unknown_keys_are_400s_naming_the_key(string yaml, string field)
    {
        var error = Should.Throw<BadRequestException>(() => ComposeImport.Analyze(yaml, "default"));

        error.Details.ShouldNotBeNull();
        error.Details!.Keys.ShouldContain(field);
    }

    [Fact]
    public void Extensions_are_allowed()
    {
        var analysis = ComposeImport.Analyze("x-common: &c {restart: always}\nservices:\n  app:\n    image: a\n    x-note: hi\n", "default");

        analysis["services"]!.AsArray().Count.ShouldBe(1);
    }

    [Fact]
    public void A_file_over_one_megabyte_is_a_413()
    {
        var yaml = "services:\n  app:\n    image: a\n# " + new string('x', ComposeFile.MaxBytes);

        Should.Throw<PayloadTooLargeException>(() => ComposeImport.Analyze(yaml, "default"));
    }
}
