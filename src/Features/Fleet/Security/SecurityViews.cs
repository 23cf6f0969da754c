namespace Capstan.Features.Fleet.Security;

/// <summary>A vulnerability finding as seed 004's security dashboard reads it (camelCase).</summary>
public sealed record VulnerabilityView(
    Guid Id,
    Guid InstanceId,
    string InstanceName,
    string CveId,
    string OsvId,
    string PackageName,
    string PackageVersion,
    string Ecosystem,
    string Severity,
    double? CvssScore,
    string Title,
    string Description,
    string? FixVersion,
    string[] References,
    string Status,
    DateTime DetectedAt,
    DateTime? AcknowledgedAt,
    Guid? AcknowledgedBy,
    DateTime? FixedAt);

internal sealed record VulnerabilityRow
{
    /// <summary>A vulnerability aliased <c>v</c> joined with its instance <c>i</c>.</summary>
    public const string Columns = """
        v.id, v.instance_id, i.name AS instance_name, v.cve_id, v.osv_id, v.package_name, v.package_version, v.ecosystem, v.severity, v.cvss_score,
        v.title, v.description, v.fix_version, v.reference_urls, v.status, v.detected_at, v.acknowledged_at, v.acknowledged_by, v.fixed_at
        """;

    /// <summary>CRITICAL first, UNKNOWN last.</summary>
    public const string SeverityRank = "array_position(ARRAY['CRITICAL','HIGH','MEDIUM','LOW','UNKNOWN'], v.severity)";

    public Guid Id { get; init; }

    public Guid InstanceId { get; init; }

    public string InstanceName { get; init; } = string.Empty;

    public string CveId { get; init; } = string.Empty;

    public string OsvId { get; init; } = string.Empty;

    public string PackageName { get; init; } = string.Empty;

    public string PackageVersion { get; init; } = string.Empty;

    public string Ecosystem { get; init; } = string.Empty;

    public string Severity { get; init; } = string.Empty;

    public double? CvssScore { get; init; }

    public string Title { get; init; } = string.Empty;

    public string Description { get; init; } = string.Empty;

    public string? FixVersion { get; init; }

    public string[] ReferenceUrls { get; init; } = [];

    public string Status { get; init; } = string.Empty;

    public DateTime DetectedAt { get; init; }

    public DateTime? AcknowledgedAt { get; init; }

    public Guid? AcknowledgedBy { get; init; }

    public DateTime? FixedAt { get; init; }

    public VulnerabilityView ToView() => new(
        Id, InstanceId, InstanceName, CveId, OsvId, PackageName, PackageVersion, Ecosystem, Severity, CvssScore, Title, Description, FixVersion,
        ReferenceUrls, Status, DetectedAt, AcknowledgedAt, AcknowledgedBy, FixedAt);
}

/// <summary>The security score of reference sindri.md §8.13 (100 points): vulnerabilities 60 − (20·critical + 10·high +
/// 5·medium + 2·low) of the OPEN ones, at least 0; secret rotation 25 − 5·overdue, at least 0; SSH keys 15 − 5·weak
/// active keys, at least 0. Grades: A ≥ 90, B ≥ 75, C ≥ 60, D ≥ 40, else F.</summary>
public sealed record SecurityScore(long Total, SecurityScoreBreakdown Breakdown, string Grade)
{
    public static SecurityScore Of(long critical, long high, long medium, long low, long overdueSecrets, long weakKeys)
    {
        var vulnerabilities = Math.Max(0, 60 - ((20 * critical) + (10 * high) + (5 * medium) + (2 * low)));
        var secrets = Math.Max(0, 25 - (5 * overdueSecrets));
        var keys = Math.Max(0, 15 - (5 * weakKeys));
        var total = vulnerabilities + secrets + keys;
        var grade = total switch
        {
            >= 90 => "A",
            >= 75 => "B",
            >= 60 => "C",
            >= 40 => "D",
            _ => "F",
        };
        return new SecurityScore(total, new SecurityScoreBreakdown(vulnerabilities, secrets, keys), grade);
    }
}

public sealed record SecurityScoreBreakdown(long Vulnerabilities, long SecretRotation, long SshKeys);

/// <summary>SQL fragments the security reads share: what counts as an overdue rotation, a weak or expired SSH key.</summary>
internal static class SecurityRules
{
    /// <summary>On a secret rotation aliased <c>r</c>, needs <c>@Now</c> (the alert evaluator's rule too): flagged, never
    /// rotated (no next rotation), or past its next rotation. Never NULL, so filters and sorts treat it as a boolean.</summary>
    public const string Overdue = "(r.is_overdue OR r.next_rotation IS NULL OR r.next_rotation < @Now)";

    /// <summary>On an SSH key aliased <c>k</c>: DSA/DSS keys, and RSA keys under 2048 bits.</summary>
    public const string Weak = "(lower(k.key_type) IN ('dsa', 'dss', 'ssh-dss', 'ssh-dsa') OR (lower(k.key_type) IN ('rsa', 'ssh-rsa') AND k.key_bits < 2048))";

    /// <summary>On an SSH key aliased <c>k</c>: marked EXPIRED, or active past its expiry; needs <c>@Now</c>.</summary>
    public const string Expired = "(k.status = 'EXPIRED' OR (k.status = 'ACTIVE' AND k.expires_at < @Now))";

    public static readonly string[] VulnerabilityStatuses = ["OPEN", "ACKNOWLEDGED", "FIXED", "FALSE_POSITIVE"];

    public static readonly string[] KeyStatuses = ["ACTIVE", "REVOKED", "EXPIRED"];
}

/// <summary>The counts the summary and the compliance report are built from, for one instance or every instance the
/// caller can see.</summary>
internal sealed record SecurityPosture(
    long Critical, long High, long Medium, long Low, long Unknown, long Total, long Open, long Acknowledged, long OverdueSecrets, long TotalSecrets,
    long ExpiredKeys, long WeakKeys, long ActiveKeys)
{
    private const string Select = $"""
        WITH visible AS (SELECT i.id FROM fleet.instances i WHERE (@InstanceId::uuid IS NULL OR i.id = @InstanceId) AND {FleetVisibility.Predicate})
        SELECT
            count(*) FILTER (WHERE v.status = 'OPEN' AND v.severity = 'CRITICAL') AS critical,
            count(*) FILTER (WHERE v.status = 'OPEN' AND v.severity = 'HIGH') AS high,
            count(*) FILTER (WHERE v.status = 'OPEN' AND v.severity = 'MEDIUM') AS medium,
            count(*) FILTER (WHERE v.status = 'OPEN' AND v.severity = 'LOW') AS low,
            count(*) FILTER (WHERE v.status = 'OPEN' AND v.severity = 'UNKNOWN') AS unknown,
            count(*) AS total,
            count(*) FILTER (WHERE v.status = 'OPEN') AS open,
            count(*) FILTER (WHERE v.status = 'ACKNOWLEDGED') AS acknowledged,
            (SELECT count(*) FROM fleet.secret_rotations r WHERE r.instance_id IN (SELECT id FROM visible) AND {SecurityRules.Overdue}) AS overdue_secrets,
            (SELECT count(*) FROM fleet.secret_rotations r WHERE r.instance_id IN (SELECT id FROM visible)) AS total_secrets,
            (SELECT count(*) FROM fleet.ssh_keys k WHERE k.instance_id IN (SELECT id FROM visible) AND {SecurityRules.Expired}) AS expired_keys,
            (SELECT count(*) FROM fleet.ssh_keys k WHERE k.instance_id IN (SELECT id FROM visible) AND k.status = 'ACTIVE' AND {SecurityRules.Weak}) AS weak_keys,
            (SELECT count(*) FROM fleet.ssh_keys k WHERE k.instance_id IN (SELECT id FROM visible) AND k.status = 'ACTIVE') AS active_keys
        FROM fleet.vulnerabilities v
        WHERE v.instance_id IN (SELECT id FROM visible)
        """;

    public SecurityScore Score => SecurityScore.Of(Critical, High, Medium, Low, OverdueSecrets, WeakKeys);

    /// <summary>Reads the posture; an <paramref name="instanceId"/> the caller cannot see is a 404.</summary>
    public static async Task<SecurityPosture> ReadAsync(
        Capstan.Infrastructure.Data.DbSession db, Capstan.Infrastructure.Security.Caller caller, Guid? instanceId, DateTime now, CancellationToken cancellationToken)
    {
        var scope = FleetVisibility.Of(caller);
        if (instanceId is not null && !await db.ExecuteScalarAsync<bool>(
                $"SELECT EXISTS (SELECT 1 FROM fleet.instances i WHERE i.id = @InstanceId AND {FleetVisibility.Predicate})",
                new { InstanceId = instanceId, scope.SeesAllTeams, scope.TeamIds },
                cancellationToken))
        {
            throw new Capstan.Infrastructure.Errors.NotFoundException($"Instance '{instanceId}' not found");
        }

        return await db.QuerySingleAsync<SecurityPosture>(Select, new { InstanceId = instanceId, Now = now, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
    }
}

/// <summary>The triage transitions of a finding: acknowledge (OPEN → ACKNOWLEDGED), fix (OPEN/ACKNOWLEDGED/
/// FALSE_POSITIVE → FIXED), false positive (OPEN/ACKNOWLEDGED → FALSE_POSITIVE). Anything else is a 409 naming the
/// current status; an unknown or unseen finding a 404.</summary>
internal static class VulnerabilityTriage
{
    private const string Current = $"""
        SELECT v.status, v.cve_id FROM fleet.vulnerabilities v JOIN fleet.instances i ON i.id = v.instance_id
        WHERE v.id = @Id AND {FleetVisibility.Predicate}
        FOR UPDATE OF v
        """;

    private const string Update = """
        UPDATE fleet.vulnerabilities SET
            status = @Status, updated_at = @Now,
            acknowledged_at = CASE WHEN @Status = 'ACKNOWLEDGED' THEN @Now ELSE acknowledged_at END,
            acknowledged_by = CASE WHEN @Status = 'ACKNOWLEDGED' THEN @UserId ELSE acknowledged_by END,
            fixed_at = CASE WHEN @Status = 'FIXED' THEN @Now ELSE fixed_at END
        WHERE id = @Id
        """;

    private const string Select = $"SELECT {VulnerabilityRow.Columns} FROM fleet.vulnerabilities v JOIN fleet.instances i ON i.id = v.instance_id WHERE v.id = @Id";

    public static async Task<VulnerabilityView> MoveAsync(
        Capstan.Infrastructure.Data.DbSession db, Capstan.Infrastructure.Security.Caller caller, Capstan.Infrastructure.Audit.AuditTrail audit, Guid id, string target,
        string[] from, DateTime now, CancellationToken cancellationToken)
    {
        var scope = FleetVisibility.Of(caller);
        var current = await db.QuerySingleOrDefaultAsync<CurrentRow>(Current, new { Id = id, scope.SeesAllTeams, scope.TeamIds }, cancellationToken)
            ?? throw new Capstan.Infrastructure.Errors.NotFoundException($"Vulnerability '{id}' not found");
        if (!from.Contains(current.Status, StringComparer.Ordinal))
        {
            throw new Capstan.Infrastructure.Errors.ConflictException($"Vulnerability is {current.Status}; it cannot become {target}");
        }

        await db.ExecuteAsync(Update, new { Id = id, Status = target, Now = now, caller.UserId }, cancellationToken);
        audit.Record($"vulnerability.{target.ToLowerInvariant()}", "vulnerability", id.ToString(), current.CveId, new { from = current.Status, to = target });
        return (await db.QuerySingleAsync<VulnerabilityRow>(Select, new { Id = id }, cancellationToken)).ToView();
    }

    private sealed record CurrentRow(string Status, string CveId);
}
