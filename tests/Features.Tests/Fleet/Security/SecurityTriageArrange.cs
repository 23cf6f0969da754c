using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Security;

/// <summary>Arrange-helpers of the security slices' handler tests: instances of a team the caller is not in, a connected
/// agent as the database records it, and seeded findings, rotations and keys.</summary>
internal static class SecurityTriageArrange
{
    /// <summary>Puts <paramref name="instance"/> in a team no test user belongs to (admins still see it).</summary>
    public static Task HideInTeamAsync(this ApiFixture fixture, Guid instance) =>
        fixture.ExecuteAsync("UPDATE fleet.instances SET team_id = @Team WHERE id = @Id", new { Team = Guid.CreateVersion7(), Id = instance });

    /// <summary>Records an agent connection for <paramref name="instance"/> now, so commands are dispatched to it.</summary>
    public static Task MarkAgentConnectedAsync(this ApiFixture fixture, Guid instance) =>
        fixture.ExecuteAsync(
            "UPDATE fleet.instances SET agent_connection_id = @Connection, agent_connected_at = now(), agent_replica = 'test' WHERE id = @Id",
            new { Connection = Guid.CreateVersion7(), Id = instance });

    public static async Task<Guid> VulnerabilityAsync(
        this ApiFixture fixture, Guid instance, string cve, string severity = "HIGH", string status = "OPEN", string ecosystem = "npm", DateTime? detectedAt = null,
        string package = "lodash")
    {
        var id = Guid.CreateVersion7();
        await fixture.ExecuteAsync(
            """
            INSERT INTO fleet.vulnerabilities (id, instance_id, cve_id, osv_id, package_name, package_version, ecosystem, severity, cvss_score, title, description,
                                               fix_version, reference_urls, status, detected_at)
            VALUES (@Id, @Instance, @Cve, 'GHSA-' || @Cve, @Package, '4.17.0', @Ecosystem, @Severity, 7.5, 'Title of ' || @Cve, 'described', '4.17.21',
                    ARRAY['https://example.test/' || @Cve], @Status, COALESCE(@DetectedAt, now()))
            """,
            new { Id = id, Instance = instance, Cve = cve, Package = package, Ecosystem = ecosystem, Severity = severity, Status = status, DetectedAt = detectedAt });
        return id;
    }

    public static async Task<Guid> SecretRotationAsync(
        this ApiFixture fixture, Guid instance, string name, DateTime? lastRotated, long rotationDays = 90, bool isOverdue = false)
    {
        var id = Guid.CreateVersion7();
        await fixture.ExecuteAsync(
            """
            INSERT INTO fleet.secret_rotations (id, instance_id, secret_name, secret_type, last_rotated, next_rotation, rotation_days, is_overdue)
            VALUES (@Id, @Instance, @Name, 'password', @Last, @Next, @Days, @Overdue)
            """,
            new { Id = id, Instance = instance, Name = name, Last = lastRotated, Next = lastRotated?.AddDays(rotationDays), Days = rotationDays, Overdue = isOverdue });
        return id;
    }

    public static async Task<Guid> SshKeyAsync(
        this ApiFixture fixture, Guid instance, string fingerprint, string keyType = "ssh-ed25519", long? bits = 256, string status = "ACTIVE", DateTime? expiresAt = null,
        DateTime? createdAt = null)
    {
        var id = Guid.CreateVersion7();
        await fixture.ExecuteAsync(
            """
            INSERT INTO fleet.ssh_keys (id, instance_id, fingerprint, key_type, key_bits, status, expires_at, created_at)
            VALUES (@Id, @Instance, @Fingerprint, @Type, @Bits, @Status, @Expires, COALESCE(@CreatedAt, now()))
            """,
            new { Id = id, Instance = instance, Fingerprint = fingerprint, Type = keyType, Bits = bits, Status = status, Expires = expiresAt, CreatedAt = createdAt });
        return id;
    }
}
