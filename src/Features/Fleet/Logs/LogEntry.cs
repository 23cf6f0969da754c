using System.Text.Json;
using Capstan.Infrastructure.Data;
using FluentValidation;
using Microsoft.Extensions.Configuration;
using NpgsqlTypes;

namespace Capstan.Features.Fleet.Logs;

/// <summary>One log line to ingest (reference sindri.md §8.5): level and source in any case (<c>warning</c>,
/// <c>app:web</c>), a message of 1..10,000 characters, optional metadata object, deployment and timestamp.</summary>
public sealed record LogEntry
{
    public Guid? InstanceId { get; init; }

    public string? Level { get; init; }

    public string? Source { get; init; }

    public string? Message { get; init; }

    public JsonElement? Metadata { get; init; }

    public Guid? DeploymentId { get; init; }

    public DateTimeOffset? Timestamp { get; init; }

    /// <summary>The entry as stored, with its id and time (the server's when none was given).</summary>
    internal LogView ToStored(DateTime now) => new(
        Guid.CreateVersion7(),
        InstanceId!.Value,
        FleetVocabulary.Level(Level)!,
        FleetVocabulary.Source(Source)!,
        Message!,
        Metadata is { ValueKind: JsonValueKind.Object } metadata ? metadata : null,
        DeploymentId,
        Timestamp?.UtcDateTime ?? now);

    /// <summary>Rules for one entry. Timestamps must fall within the log retention (<c>Fleet:Retention:LogDays</c>) and
    /// at most an hour ahead, where partitions exist.</summary>
    public sealed class Rules : AbstractValidator<LogEntry>
    {
        public Rules(IConfiguration configuration, TimeProvider clock)
        {
            var retention = TimeSpan.FromDays(configuration.GetValue("Fleet:Retention:LogDays", 30));
            RuleFor(entry => entry.InstanceId).NotEmpty().WithMessage("instanceId is required");
            RuleFor(entry => entry.Level).Must(level => FleetVocabulary.Level(level) is not null)
                .WithMessage($"level must be one of: {string.Join(", ", FleetVocabulary.LogLevels)}");
            RuleFor(entry => entry.Source).Must(source => FleetVocabulary.Source(source) is not null)
                .WithMessage($"source must be one of: {string.Join(", ", FleetVocabulary.LogSources)}");
            RuleFor(entry => entry.Message).NotEmpty().MaximumLength(10_000);
            RuleFor(entry => entry.Metadata).Must(metadata => metadata!.Value.ValueKind is JsonValueKind.Object or JsonValueKind.Null)
                .When(entry => entry.Metadata is not null).WithMessage("metadata must be an object");
            RuleFor(entry => entry.Timestamp)
                .Must(at => at!.Value > clock.GetUtcNow() - retention && at.Value < clock.GetUtcNow().AddHours(1))
                .When(entry => entry.Timestamp is not null)
                .WithMessage($"timestamp must be within the last {retention.TotalDays} days and not more than an hour ahead");
        }
    }
}

/// <summary>Writes log lines with PostgreSQL's binary COPY, inside the command's transaction.</summary>
internal static class LogWriter
{
    public static async Task CopyAsync(DbSession db, IReadOnlyList<LogView> logs, CancellationToken cancellationToken)
    {
        var connection = await db.OpenAsync(cancellationToken);
        await using var import = await connection.BeginBinaryImportAsync(
            "COPY fleet.logs (id, instance_id, level, source, message, metadata, deployment_id, logged_at) FROM STDIN (FORMAT BINARY)",
            cancellationToken);
        foreach (var log in logs)
        {
            await import.StartRowAsync(cancellationToken);
            await import.WriteAsync(log.Id, NpgsqlDbType.Uuid, cancellationToken);
            await import.WriteAsync(log.InstanceId, NpgsqlDbType.Uuid, cancellationToken);
            await import.WriteAsync(log.Level, NpgsqlDbType.Text, cancellationToken);
            await import.WriteAsync(log.Source, NpgsqlDbType.Text, cancellationToken);
            await import.WriteAsync(log.Message, NpgsqlDbType.Text, cancellationToken);
            if (log.Metadata is { } metadata)
            {
                await import.WriteAsync(metadata.GetRawText(), NpgsqlDbType.Jsonb, cancellationToken);
            }
            else
            {
                await import.WriteNullAsync(cancellationToken);
            }

            if (log.DeploymentId is { } deployment)
            {
                await import.WriteAsync(deployment, NpgsqlDbType.Uuid, cancellationToken);
            }
            else
            {
                await import.WriteNullAsync(cancellationToken);
            }

            await import.WriteAsync(DateTime.SpecifyKind(log.Timestamp, DateTimeKind.Utc), NpgsqlDbType.TimestampTz, cancellationToken);
        }

        await import.CompleteAsync(cancellationToken);
    }
}
