using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Audit;
using Capstan.Infrastructure.Clusters;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Delivery;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Http;
using Capstan.Infrastructure.Routing;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Capstan.Features.Delivery.Runs;

/// <summary>
/// <c>POST /v1/api/workflows/{id}/run</c> (seed 002). Accepts the seed's <c>{cluster, namespace}</c> (a cluster for
/// this run; the namespace of nodes that name none) and the upstream's <c>{trigger_data: {secrets: {nodeId: {key:
/// value}}, envVars: {nodeId: {NAME: value}}}}</c>. Order as the upstream's: ownership, published (else 409), then —
/// before anything is recorded — every node is rendered and checked (400 per field), the graph must be acyclic (400)
/// and the cluster known (404). Then a version snapshot and the run record are committed, each node is server-side
/// applied in topological order with its status on the workflow's stream, and the run is completed with its duration
/// (also when it fails). Secret values are applied and never stored: not in the run, the version, the log or the
/// audit. Answers <c>{run_id, status, version, message, logs, …}</c>: 200 with <c>status: completed|failed</c>, or 503
/// when the cluster could not be reached (the failed run is recorded). A second run while one is running is a 409.
/// </summary>
public static class RunWorkflow
{
    public sealed record TriggerData
    {
        public JsonObject? Secrets { get; init; }

        public JsonObject? EnvVars { get; init; }

        [JsonPropertyName("env_vars")]
        public JsonObject? EnvVarsSnake { get; init; }
    }

    public sealed record Body
    {
        public string? Cluster { get; init; }

        public string? Namespace { get; init; }

        [JsonPropertyName("trigger_data")]
        public TriggerData? TriggerDataSnake { get; init; }

        public TriggerData? TriggerData { get; init; }
    }

    /// <summary>Neither a command nor a query: the run commits its record before touching the cluster and completes
    /// it afterwards, in transactions of its own, so the stream sees progress live and a failed run stays recorded.</summary>
    public sealed record Command(Guid Id, string? Cluster, string? Namespace, TriggerData? Trigger) : IRequest<Response>;

    public sealed record Response
    {
        [JsonPropertyName("run_id")]
        public Guid RunId { get; init; }

        [JsonPropertyName("workflow_id")]
        public Guid WorkflowId { get; init; }

        [JsonPropertyName("status")]
        public string Status { get; init; } = string.Empty;

        [JsonPropertyName("version")]
        public long Version { get; init; }

        [JsonPropertyName("message")]
        public string Message { get; init; } = string.Empty;

        [JsonPropertyName("cluster")]
        public string Cluster { get; init; } = string.Empty;

        [JsonPropertyName("duration")]
        public long Duration { get; init; }

        [JsonPropertyName("error")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? Error { get; init; }

        [JsonPropertyName("logs")]
        public IReadOnlyList<string> Logs { get; init; } = [];
    }

    internal sealed class Validator : AbstractValidator<Command>
    {
        public Validator()
        {
            RuleFor(command => command.Id).NotEmpty();
            RuleFor(command => command.Cluster).MaximumLength(100);
            RuleFor(command => command.Namespace).Matches("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$").MaximumLength(63).When(command => !string.IsNullOrEmpty(command.Namespace))
                .WithMessage("namespace must be a valid Kubernetes namespace name");
            RuleFor(command => command.Trigger).Custom((trigger, context) =>
            {
                foreach (var (field, map) in new[] { ("trigger_data.secrets", trigger?.Secrets), ("trigger_data.envVars", trigger?.EnvVars ?? trigger?.EnvVarsSnake) })
                {
                    foreach (var (nodeId, values) in map ?? [])
                    {
                        if (values is not JsonObject entries || entries.Any(entry => entry.Value is not JsonValue))
                        {
                            context.AddFailure(field, $"{field}.{nodeId} must map names to string values");
                        }
                    }
                }
            });
        }
    }

    internal sealed class Handler(
        DbSession db, RequestContext request, ClusterDirectory directory, EnvelopeCipher cipher, EventHub hub, AuditTrail audit, TimeProvider clock)
        : IRequestHandler<Command, Response>
    {
        private const string Snapshot = """
            INSERT INTO delivery.workflow_versions (id, workflow_id, version, nodes, edges, description, created_at, created_by, is_automatic, run_id)
            VALUES (@Id, @WorkflowId, @Version, CAST(@Nodes AS jsonb), CAST(@Edges AS jsonb), @Description, @Now, @By, true, @RunId)
            """;

        private const string InsertRun = """
            INSERT INTO delivery.workflow_runs (id, workflow_id, version, status, cluster_id, cluster_name, started_at, triggered_by, trigger_data)
            VALUES (@Id, @WorkflowId, @Version, 'running', @ClusterId, @ClusterName, @Now, 'manual', CAST(@TriggerData AS jsonb))
            """;

        private const string CompleteRun = """
            UPDATE delivery.workflow_runs SET status = @Status, completed_at = @Now, duration_ms = @Duration, node_states = CAST(@NodeStates AS jsonb),
                output = CAST(@Output AS jsonb), logs = CAST(@Logs AS jsonb), error = @Error
            WHERE id = @Id
            """;

        private const string Track = """
            INSERT INTO delivery.workflow_objects (workflow_id, cluster_id, node_id, api_version, kind, namespace, name, last_run_id, applied_at)
            VALUES (@WorkflowId, @ClusterId, @NodeId, @ApiVersion, @Kind, @Namespace, @Name, @RunId, @Now)
            ON CONFLICT (workflow_id, cluster_id, api_version, kind, namespace, name) DO UPDATE SET node_id = EXCLUDED.node_id, last_run_id = EXCLUDED.last_run_id, applied_at = EXCLUDED.applied_at
            """;

        private const string LinkResources = """
            UPDATE delivery.resources SET workflow_id = @WorkflowId, workflow_name = @WorkflowName
            WHERE user_id = @UserId AND cluster_id = @ClusterId AND namespace = @Namespace AND name = @Name AND kind = @Kind
            """;

        public async Task<Response> Handle(Command command, CancellationToken cancellationToken)
        {
            var caller = request.RequiredCaller;
            var workflow = await WorkflowStore.GetOwnedAsync(db, command.Id, caller.UserId, cancellationToken);
            if (workflow.Status != "published")
            {
                throw new ConflictException("Workflow must be published to run");
            }

            var graph = DefaultNamespace(workflow.Graph(), command.Namespace);
            var context = new RenderContext
            {
                WorkflowId = workflow.Id,
                Secrets = Values(command.Trigger?.Secrets),
                EnvVars = Values(command.Trigger?.EnvVars ?? command.Trigger?.EnvVarsSnake),
                PluginTypes = await PluginCatalog.EnabledNodeTypesAsync(db, caller.UserId, cancellationToken),
            };
            var registries = await ContainerRegistries.AllAsync(db, cancellationToken);
            context = context with { PullSecretFor = image => ContainerRegistries.Pick(registries, image) is { } registry && Login(registry) is not null ? ContainerRegistries.PullSecretName(registry.Name) : null };
            if (ManifestRenderer.Validate(graph, context) is { Count: > 0 } problems)
            {
                throw new BadRequestException($"The workflow cannot be deployed: {problems[0].Field}: {problems[0].Message}")
                {
                    Details = problems.GroupBy(problem => problem.Field).ToDictionary(group => group.Key, group => group.Select(problem => problem.Message).ToArray()),
                };
            }

            if (graph.ExecutionOrder(out var cycle) is not { } order)
            {
                throw BadRequestException.ForField("edges", $"workflow contains a cycle - workflows must be directed acyclic graphs (DAGs); nodes on or after it: {string.Join(", ", cycle)}");
            }

            var cluster = await DeliveryClusters.ResolveAsync(directory, caller, string.IsNullOrWhiteSpace(command.Cluster) ? workflow.ClusterId : command.Cluster, cancellationToken);

            // Record the run: snapshot, run row and audit commit together before the cluster is touched.
            var runId = Guid.CreateVersion7();
            var started = clock.GetUtcNow();
            long version;
            await db.BeginAsync(cancellationToken);
            try
            {
                await db.ExecuteAsync("SELECT 1 FROM delivery.workflows WHERE id = @Id FOR UPDATE", new { workflow.Id }, cancellationToken);
                if (await db.ExecuteScalarAsync<bool>(
                    "SELECT EXISTS (SELECT 1 FROM delivery.workflow_runs WHERE workflow_id = @Id AND status = 'running' AND started_at > @Since)",
                    new { workflow.Id, Since = started.UtcDateTime.AddMinutes(-30) },
                    cancellationToken))
                {
                    throw new ConflictException("A run of this workflow is in progress");
                }

                version = await db.ExecuteScalarAsync<long>(
                    "SELECT GREATEST(COALESCE(MAX(version), 0), (SELECT current_version FROM delivery.workflows WHERE id = @Id)) + 1 FROM delivery.workflow_versions WHERE workflow_id = @Id",
                    new { workflow.Id },
                    cancellationToken);
                await db.ExecuteAsync(Snapshot, new
                {
                    Id = Guid.CreateVersion7(),
                    WorkflowId = workflow.Id,
                    Version = version,
                    workflow.Nodes,
                    workflow.Edges,
                    Description = $"Snapshot for run at {started.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}",
                    Now = started.UtcDateTime,
                    By = caller.UserId,
                    RunId = runId,
                }, cancellationToken);
                await db.ExecuteAsync("UPDATE delivery.workflows SET current_version = @Version WHERE id = @Id", new { workflow.Id, Version = version }, cancellationToken);
                await db.ExecuteAsync(InsertRun, new
                {
                    Id = runId,
                    WorkflowId = workflow.Id,
                    Version = version,
                    ClusterId = cluster.Id,
                    ClusterName = cluster.Name,
                    Now = started.UtcDateTime,
                    TriggerData = new JsonObject
                    {
                        ["user_id"] = caller.UserId.ToString(),
                        ["secret_nodes"] = new JsonArray([.. context.Secrets.Keys.Select(key => (JsonNode)key)]),
                        ["env_nodes"] = new JsonArray([.. context.EnvVars.Keys.Select(key => (JsonNode)key)]),
                    }.ToJsonString(),
                }, cancellationToken);
                audit.Record("delivery.workflow.run", "workflow", workflow.Id.ToString(), workflow.Name, new { run_id = runId, version, cluster = cluster.Name });
                await audit.BeforeCommitAsync(command, db, cancellationToken);
                await db.CommitAsync(cancellationToken);
            }
            catch
            {
                await db.RollbackAsync();
                throw;
            }

            // Apply, node by node; each node's status reaches the stream as it happens.
            var topic = DeliveryEvents.WorkflowTopic(workflow.Id);
            ExecutionResult result;
            try
            {
                var client = directory.Connect(cluster);
                var executor = new WorkflowExecutor(client, clock, outcome => hub.PublishAsync(
                    topic,
                    DeliveryEvents.WorkflowFrame(workflow.Id, DeliveryEvents.NodeUpdate, DeliveryEvents.NodeUpdateData(outcome.NodeId, outcome.NodeType, outcome.Status), clock.GetUtcNow()),
                    CancellationToken.None));
                result = await executor.ExecuteAsync(graph, order, context, (image, ns) => PullSecret(registries, image, ns, workflow.Id), cancellationToken);
            }
            catch (ApiException exception) when (exception.StatusCode == 503)
            {
                result = new ExecutionResult([], [$"[{clock.GetUtcNow():HH:mm:ss}] {exception.Message}"], exception.Message, true);
            }

            var response = await CompleteAsync(workflow, cluster, runId, version, started, result, caller.UserId);
            if (result.ClusterUnavailable)
            {
                throw new ServiceUnavailableException($"Cluster '{cluster.Name}' could not be reached: the run {runId} was recorded as failed ({result.Error})");
            }

            return response;
        }

        private async Task<Response> CompleteAsync(
            WorkflowRow workflow, RegisteredCluster cluster, Guid runId, long version, DateTimeOffset started, ExecutionResult result, Guid userId)
        {
            var now = clock.GetUtcNow();
            var duration = (long)(now - started).TotalMilliseconds;
            var status = result.Failed ? "failed" : "completed";
            var nodeStates = new JsonObject();
            var output = new JsonObject();
            foreach (var outcome in result.Nodes)
            {
                nodeStates[outcome.NodeId] = outcome.ToNodeState();
                output[outcome.NodeId] = outcome.Result();
            }

            JsonArray syncedNodes;
            await db.BeginAsync(CancellationToken.None);
            try
            {
                await db.ExecuteAsync(CompleteRun, new
                {
                    Id = runId,
                    Status = status,
                    Now = now.UtcDateTime,
                    Duration = duration,
                    NodeStates = nodeStates.ToJsonString(),
                    Output = output.ToJsonString(),
                    Logs = new JsonArray([.. result.Logs.Select(line => (JsonNode)line)]).ToJsonString(),
                    result.Error,
                }, CancellationToken.None);
                await db.ExecuteAsync(
                    "UPDATE delivery.workflow_versions SET run_status = @Status WHERE workflow_id = @WorkflowId AND version = @Version",
                    new { Status = status, WorkflowId = workflow.Id, Version = version },
                    CancellationToken.None);

                // The canvas may have changed during the run: statuses go to the nodes stored now, matched by id.
                var stored = await db.ExecuteScalarAsync<string>("SELECT nodes::text FROM delivery.workflows WHERE id = @Id FOR UPDATE", new { workflow.Id }, CancellationToken.None);
                syncedNodes = JsonNode.Parse(stored ?? "[]") as JsonArray ?? [];
                foreach (var node in syncedNodes.OfType<JsonObject>())
                {
                    if (NodeData.Text(node["id"]) is { } id && result.Nodes.FirstOrDefault(outcome => outcome.NodeId == id) is { } outcome)
                    {
                        var data = node["data"] as JsonObject ?? [];
                        node["data"] = data;
                        data["_status"] = outcome.Status.DeepClone();
                        if (outcome.Applied.Any(applied => applied.Kind == "Secret"))
                        {
                            data["_secretCreated"] = true;
                        }
                    }
                }

                await db.ExecuteAsync(
                    """
                    UPDATE delivery.workflows SET nodes = CAST(@Nodes AS jsonb), run_count = run_count + 1,
                        success_count = success_count + CASE WHEN @Failed THEN 0 ELSE 1 END,
                        failure_count = failure_count + CASE WHEN @Failed THEN 1 ELSE 0 END,
                        last_run_at = @Now, updated_at = @Now
                    WHERE id = @Id
                    """,
                    new { workflow.Id, Nodes = syncedNodes.ToJsonString(), result.Failed, Now = now.UtcDateTime },
                    CancellationToken.None);
                foreach (var outcome in result.Nodes)
                {
                    foreach (var applied in outcome.Applied)
                    {
                        var parameters = new { WorkflowId = workflow.Id, WorkflowName = workflow.Name, ClusterId = cluster.Id, outcome.NodeId, applied.ApiVersion, applied.Kind, applied.Namespace, applied.Name, RunId = runId, Now = now.UtcDateTime, UserId = userId };
                        await db.ExecuteAsync(Track, parameters, CancellationToken.None);
                        await db.ExecuteAsync(LinkResources, parameters, CancellationToken.None);
                    }
                }

                audit.Record(new AuditEntry("delivery.workflow.run.complete", "workflow", workflow.Id.ToString(), workflow.Name, new { run_id = runId, status, duration_ms = duration, nodes = result.Nodes.Count })
                {
                    Result = result.Failed ? AuditResult.Failure : AuditResult.Success,
                });
                await audit.BeforeCommitAsync(new object(), db, CancellationToken.None);
                await db.CommitAsync(CancellationToken.None);
            }
            catch
            {
                await db.RollbackAsync();
                throw;
            }

            await hub.PublishAsync(
                DeliveryEvents.WorkflowTopic(workflow.Id),
                DeliveryEvents.WorkflowFrame(workflow.Id, DeliveryEvents.WorkflowSync, new JsonObject
                {
                    ["run_id"] = runId.ToString(),
                    ["status"] = status,
                    ["version"] = version,
                    ["duration"] = duration,
                    ["nodes"] = syncedNodes,
                }, now),
                CancellationToken.None);
            return new Response
            {
                RunId = runId,
                WorkflowId = workflow.Id,
                Status = status,
                Version = version,
                Cluster = cluster.Name,
                Duration = duration,
                Message = result.Failed ? "Workflow execution failed" : "Workflow executed successfully",
                Error = result.Error,
                Logs = result.Logs,
            };
        }

        /// <summary>The login a registry gives the cluster for pulling its images (ECR needs a token exchange with the
        /// AWS API, which is not configured, so it gets none).</summary>
        private (string Username, string Password)? Login(RegistryRecord registry) =>
            RegistryCredentials.Open(cipher, registry.Id, registry.Credentials).BasicAuth(registry.RegistryType);

        private JsonObject? PullSecret(List<RegistryRecord> registries, string image, string @namespace, Guid workflowId)
        {
            if (ContainerRegistries.Pick(registries, image) is not { } registry || Login(registry) is not { } login)
            {
                return null;
            }

            return ContainerRegistries.PullSecretManifest(ContainerRegistries.PullSecretName(registry.Name), @namespace, ContainerRegistries.DockerConfigServer(image), login.Username, login.Password, workflowId);
        }

        /// <summary>The seed's run namespace: nodes that name none deploy there.</summary>
        private static WorkflowGraph DefaultNamespace(WorkflowGraph graph, string? @namespace)
        {
            if (string.IsNullOrWhiteSpace(@namespace))
            {
                return graph;
            }

            var nodes = new JsonArray();
            foreach (var node in graph.Nodes)
            {
                var copy = (JsonObject)node.Raw.DeepClone();
                var data = copy["data"] as JsonObject ?? [];
                copy["data"] = data;
                if (NodeData.Text(data["namespace"]) is null)
                {
                    data["namespace"] = @namespace.Trim();
                }

                nodes.Add(copy);
            }

            return WorkflowGraph.Parse(nodes, new JsonArray([.. graph.Edges.Select(edge => edge.Raw.DeepClone())]));
        }

        private static Dictionary<string, IReadOnlyDictionary<string, string>> Values(JsonObject? map)
        {
            var values = new Dictionary<string, IReadOnlyDictionary<string, string>>(StringComparer.Ordinal);
            foreach (var (nodeId, entries) in map ?? [])
            {
                if (entries is JsonObject obj && obj.Count > 0)
                {
                    values[nodeId] = obj.ToDictionary(entry => entry.Key, entry => NodeData.RawText(entry.Value), StringComparer.Ordinal);
                }
            }

            return values;
        }
    }

    internal sealed class Endpoint : ICarterModule
    {
        public void AddRoutes(IEndpointRouteBuilder app) =>
            app.MapPost("/v1/api/workflows/{id}/run", async (Guid id, HttpRequest http, IMediator mediator, CancellationToken cancellationToken) =>
                {
                    // The body is optional (the upstream UI always sends trigger_data; the seed sends cluster/namespace).
                    var body = http.ContentLength is > 0 || http.Headers.TransferEncoding.Count > 0
                        ? await http.ReadFromJsonAsync<Body>(cancellationToken) ?? new Body()
                        : new Body();
                    return TypedResults.Ok(await mediator.Send(new Command(id, body.Cluster?.Trim(), body.Namespace?.Trim(), body.TriggerDataSnake ?? body.TriggerData), cancellationToken));
                })
                .RequirePermission(Permissions.DeliveryDeploy)
                .WithName("Delivery" + nameof(RunWorkflow))
                .WithTags(DeliveryRoutes.Runs)
                .WithSummary("Execute the workflow (creates version + deploys)")
                .Accepts<Body>("application/json")
                .Produces<Response>()
                .ProducesErrors(400, 401, 403, 404, 409, 503);
    }
}
