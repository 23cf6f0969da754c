using System.Text.Json;
using Capstan.Infrastructure.Background;
using Capstan.Infrastructure.Crypto;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Events;
using Capstan.Infrastructure.Tools;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Deployments;

/// <summary>
/// Runs PENDING deployments with the <c>sindri</c> CLI, oldest first, claiming each with <c>FOR UPDATE SKIP
/// LOCKED</c>: IN_PROGRESS (10 %), the configuration written to a private temporary file, <c>sindri deploy --config
/// &lt;file&gt;</c> with the deployment's secrets in its environment (<c>Fleet:Deployments:TimeoutMinutes</c>, 30), then
/// SUCCEEDED with the instance RUNNING and a DEPLOY (or REDEPLOY) event, or FAILED with the CLI's error and the instance
/// in ERROR. The sealed secrets are wiped once the run ends. Progress is raised on <c>fleet.deployments.&lt;id&gt;</c>.
/// Polls every <c>Fleet:Deployments:PollSeconds</c> (5).
/// </summary>
public sealed class DeploymentRunner(IServiceProvider services, ILogger<DeploymentRunner> logger) : RecurringJob(services, logger)
{
    private const string Claim = """
        UPDATE fleet.deployments d SET status = 'IN_PROGRESS', progress_percent = 10
        WHERE d.id = (SELECT id FROM fleet.deployments WHERE status = 'PENDING' ORDER BY started_at, id FOR UPDATE SKIP LOCKED LIMIT 1)
        RETURNING d.id, d.name, d.instance_id, d.yaml_content, d.provider, d.region, d.docker_host, d.secrets_sealed,
                  EXISTS (SELECT 1 FROM fleet.deployments p WHERE p.instance_id = d.instance_id AND p.id <> d.id AND p.status = 'SUCCEEDED') AS redeploy
        """;

    private const string Finish = """
        UPDATE fleet.deployments
        SET status = @Status, progress_percent = CASE WHEN @Status = 'SUCCEEDED' THEN 100 ELSE progress_percent END,
            completed_at = @Now, logs = @Logs, error = @Error, secrets_sealed = NULL
        WHERE id = @Id;
        UPDATE fleet.instances SET status = @InstanceStatus, updated_at = @Now WHERE id = @InstanceId AND status = 'DEPLOYING';
        INSERT INTO fleet.instance_events (id, instance_id, event_type, occurred_at, actor_id, metadata)
        SELECT @EventId, @InstanceId, @EventType, @Now, NULL, CAST(@Metadata AS jsonb) WHERE @InstanceId IS NOT NULL;
        """;

    private readonly TimeSpan _interval = TimeSpan.FromSeconds(services.GetRequiredService<IConfiguration>().GetValue("Fleet:Deployments:PollSeconds", 5));
    private readonly ILogger _logger = logger;

    public override string Name => "fleet-deployments";

    public override TimeSpan Interval => _interval;

    protected override TimeSpan FirstRunDelay => TimeSpan.FromSeconds(5);

    public override async Task RunOnceAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        for (var run = 0; run < 10; run++)
        {
            if (!await RunNextAsync(scope, cancellationToken))
            {
                return;
            }
        }
    }

    private async Task<bool> RunNextAsync(IServiceProvider scope, CancellationToken cancellationToken)
    {
        var db = scope.GetRequiredService<DbSession>();
        var hub = scope.GetRequiredService<EventHub>();
        var clock = scope.GetRequiredService<TimeProvider>();
        var claimed = await db.QuerySingleOrDefaultAsync<Claimed>(Claim, null, cancellationToken);
        if (claimed is null)
        {
            return false;
        }

        await hub.PublishAsync(db, $"fleet.deployments.{claimed.Id}", new { type = "status", deployment_id = claimed.Id, status = "IN_PROGRESS", progress_percent = 10 }, cancellationToken);
        var secrets = claimed.SecretsSealed is { } sealedSecrets
            ? JsonSerializer.Deserialize<Dictionary<string, string>>(scope.GetRequiredService<EnvelopeCipher>().DecryptString(sealedSecrets, $"deployments:{claimed.Id}")) ?? []
            : [];
        secrets["SINDRI_DEPLOYMENT_ID"] = claimed.Id.ToString();
        var timeout = TimeSpan.FromMinutes(scope.GetRequiredService<IConfiguration>().GetValue("Fleet:Deployments:TimeoutMinutes", 30.0));
        var file = Path.Combine(Path.GetTempPath(), $"capstan-deployment-{claimed.Id:N}.yaml");
        SindriCliResult? result;
        try
        {
            await File.WriteAllTextAsync(file, claimed.YamlContent, cancellationToken);
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }

            await hub.PublishAsync(db, $"fleet.deployments.{claimed.Id}", new { type = "status", deployment_id = claimed.Id, status = "IN_PROGRESS", progress_percent = 40 }, cancellationToken);
            result = await scope.GetRequiredService<SindriCli>().RunAsync(["deploy", "--config", file], secrets, timeout, cancellationToken);
        }
        finally
        {
            File.Delete(file);
        }

        var succeeded = result is { ExitCode: 0 };
        var error = result switch
        {
            null => "The sindri CLI is not available: set Sindri:CliPath to its path",
            { ExitCode: 0 } => null,
            _ => LastLines(result.Errors) is { Length: > 0 } lines ? lines : $"sindri deploy exited with code {result.ExitCode}",
        };
        var now = clock.GetUtcNow().UtcDateTime;
        await db.ExecuteAsync(
            Finish,
            new
            {
                claimed.Id,
                Status = succeeded ? "SUCCEEDED" : "FAILED",
                Now = now,
                Logs = result is null ? null : string.Join("\n", result.Output, result.Errors).Trim(),
                Error = error,
                InstanceStatus = succeeded ? "RUNNING" : "ERROR",
                claimed.InstanceId,
                EventId = Guid.CreateVersion7(),
                EventType = succeeded ? claimed.Redeploy ? "REDEPLOY" : "DEPLOY" : "ERROR",
                Metadata = JsonSerializer.Serialize(new { triggered_by = "deployment", deploymentId = claimed.Id, claimed.Provider, claimed.Region, error }),
            },
            cancellationToken);
        await hub.PublishAsync(
            db,
            $"fleet.deployments.{claimed.Id}",
            new { type = succeeded ? "complete" : "error", deployment_id = claimed.Id, status = succeeded ? "SUCCEEDED" : "FAILED", progress_percent = succeeded ? 100 : 40, message = error, instance_id = claimed.InstanceId },
            cancellationToken);
        _logger.LogInformation("Deployment {Deployment} ({Name}) {Outcome}", claimed.Id, claimed.Name, succeeded ? "succeeded" : $"failed: {error}");
        return true;
    }

    private static string LastLines(string text)
    {
        var lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return string.Join("\n", lines.TakeLast(5));
    }

    private sealed record Claimed
    {
        public Guid Id { get; init; }

        public string Name { get; init; } = string.Empty;

        public Guid? InstanceId { get; init; }

        public string YamlContent { get; init; } = string.Empty;

        public string Provider { get; init; } = string.Empty;

        public string? Region { get; init; }

        public string? DockerHost { get; init; }

        public byte[]? SecretsSealed { get; init; }

        public bool Redeploy { get; init; }
    }
}
