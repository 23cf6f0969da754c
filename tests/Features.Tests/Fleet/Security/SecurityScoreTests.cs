using Capstan.Features.Fleet.Security;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Security;

/// <summary>The security score, the summary and the compliance report over seeded findings, keys and rotations.</summary>
public sealed class SecurityScoreTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    [Theory]
    [InlineData(0, 0, 0, 0, 0, 0, 100, 60, 25, 15, "A")]
    [InlineData(1, 0, 0, 0, 0, 0, 80, 40, 25, 15, "B")]
    [InlineData(1, 1, 1, 1, 1, 1, 53, 23, 20, 10, "D")]
    [InlineData(0, 2, 3, 4, 0, 0, 57, 17, 25, 15, "D")]
    [InlineData(3, 1, 0, 0, 6, 4, 0, 0, 0, 0, "F")]
    [InlineData(0, 0, 0, 0, 1, 0, 95, 60, 20, 15, "A")]
    [InlineData(0, 0, 6, 0, 0, 0, 70, 30, 25, 15, "C")]
    public void The_score_follows_the_upstream_weights(
        long critical, long high, long medium, long low, long overdue, long weak, long total, long vulnerabilities, long secrets, long keys, string grade)
    {
        var score = SecurityScore.Of(critical, high, medium, low, overdue, weak);

        score.ShouldBe(new SecurityScore(total, new SecurityScoreBreakdown(vulnerabilities, secrets, keys), grade));
    }

    [Fact]
    public async Task Summary_and_compliance_count_open_findings_overdue_rotations_and_bad_keys()
    {
        var box = await InstanceAsync("box");
        var other = await InstanceAsync("other");
        await Fixture.ExecuteAsync(
            """
            INSERT INTO fleet.vulnerabilities (id, instance_id, cve_id, osv_id, package_name, package_version, ecosystem, title, severity, status) VALUES
                (gen_random_uuid(), @Box, 'CVE-1', 'O-1', 'a', '1', 'npm', 't', 'CRITICAL', 'OPEN'),
                (gen_random_uuid(), @Box, 'CVE-2', 'O-2', 'a', '1', 'npm', 't', 'MEDIUM', 'OPEN'),
                (gen_random_uuid(), @Box, 'CVE-3', 'O-3', 'a', '1', 'npm', 't', 'HIGH', 'ACKNOWLEDGED'),
                (gen_random_uuid(), @Box, 'CVE-4', 'O-4', 'a', '1', 'npm', 't', 'CRITICAL', 'FIXED'),
                (gen_random_uuid(), @Other, 'CVE-5', 'O-5', 'a', '1', 'npm', 't', 'HIGH', 'OPEN');
            INSERT INTO fleet.secret_rotations (id, instance_id, secret_name, secret_type, last_rotated, next_rotation, is_overdue) VALUES
                (gen_random_uuid(), @Box, 'OLD', 'password', now() - interval '100 days', now() - interval '10 days', false),
                (gen_random_uuid(), @Box, 'NEVER', 'password', NULL, NULL, true),
                (gen_random_uuid(), @Box, 'FRESH', 'password', now(), now() + interval '90 days', false);
            INSERT INTO fleet.ssh_keys (id, instance_id, fingerprint, key_type, key_bits, status, expires_at) VALUES
                (gen_random_uuid(), @Box, 'SHA256:a', 'ssh-rsa', 1024, 'ACTIVE', NULL),
                (gen_random_uuid(), @Box, 'SHA256:b', 'ssh-dss', NULL, 'REVOKED', NULL),
                (gen_random_uuid(), @Box, 'SHA256:c', 'ssh-ed25519', 256, 'ACTIVE', now() - interval '1 day'),
                (gen_random_uuid(), @Box, 'SHA256:d', 'rsa', 4096, 'ACTIVE', NULL);
            """,
            new { Box = box, Other = other });
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var summary = (await Fixture.SendAsAsync(viewer, new GetSecuritySummary.Query(box))).Summary;

        // Open on box: 1 critical, 1 medium → 60 − 20 − 5 = 35; overdue: OLD (past next rotation) and NEVER → 25 − 10 = 15;
        // weak active keys: the 1024-bit RSA one (the DSS key is revoked) → 15 − 5 = 10; total 60 → C.
        summary.TotalVulnerabilities.ShouldBe(4);
        summary.BySeverity.ShouldBe(new Dictionary<string, long> { ["CRITICAL"] = 1, ["HIGH"] = 0, ["MEDIUM"] = 1, ["LOW"] = 0, ["UNKNOWN"] = 0 });
        summary.OpenCount.ShouldBe(2);
        summary.AcknowledgedCount.ShouldBe(1);
        summary.OverdueSecrets.ShouldBe(2);
        summary.ExpiredSshKeys.ShouldBe(1);
        summary.WeakSshKeys.ShouldBe(1);
        summary.SecurityScore.ShouldBe(new SecurityScore(60, new SecurityScoreBreakdown(35, 15, 10), "C"));

        // Fleet-wide adds other's open HIGH: 60 − 20 − 10 − 5 = 25 → total 50 → D.
        (await Fixture.SendAsAsync(viewer, new GetSecuritySummary.Query(null))).Summary.SecurityScore.Total.ShouldBe(50);

        var compliance = await Fixture.SendAsAsync(viewer, new GetComplianceReport.Query(box));
        compliance.Checks.Select(check => (check.Id, check.Passed)).ShouldBe(
        [
            ("no-critical-vulns", false), ("no-high-vulns", true), ("secrets-rotated", false), ("no-weak-ssh", false), ("ssh-keys-current", false),
        ]);
        compliance.PassedChecks.ShouldBe(1);
        compliance.TotalChecks.ShouldBe(5);
        compliance.CompliancePercent.ShouldBe(20);
        compliance.Checks[2].Details.ShouldBe("2 of 3 secrets overdue for rotation");
    }
}
