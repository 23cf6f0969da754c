using System.Net;
using System.Text;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Security;

public sealed class SecurityTests(FleetFixture fixture) : FleetTest(fixture)
{
    private const string Advisory = """
        [{"id":"GHSA-35jh-r3h4-6jhm","aliases":["CVE-2021-23337"],"summary":"Command injection in lodash","details":"template() runs code",
          "database_specific":{"severity":"HIGH"},"references":[{"url":"https://example.test/a"}],
          "affected":[{"package":{"ecosystem":"npm","name":"lodash"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"4.17.21"}]}]}]},
         {"id":"CVE-2024-0001","summary":"Heap overflow in zlib","severity":[{"type":"CVSS_V3","score":"9.8"}],
          "affected":[{"package":{"ecosystem":"PyPI","name":"zlib-wrapper"},"versions":["1.0.0"]}]}]
        """;

    private static readonly string[] VulnerabilityFields =
    [
        "id", "instanceId", "instanceName", "cveId", "osvId", "packageName", "packageVersion", "ecosystem", "severity", "cvssScore", "title", "description",
        "fixVersion", "references", "status", "detectedAt", "acknowledgedAt", "acknowledgedBy", "fixedAt",
    ];

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    /// <summary>Imports the feed as an admin and scans a fresh instance's BOM; returns the instance.</summary>
    private async Task<Guid> ScannedInstanceAsync(string name = "box")
    {
        var admin = await As(BaseRole.Admin);
        await (await admin.PostAsync("/api/v1/security/advisories/import", Json(Advisory))).ShouldBeJsonAsync();
        var instance = await SeedInstanceAsync(name);
        var viewer = await As(BaseRole.Viewer);
        await (await viewer.PostJsonAsync($"/api/v1/security/scan/{instance}", new
        {
            packages = new object[]
            {
                new { name = "lodash", version = "4.17.20", ecosystem = "npm", license = "MIT" },
                new { name = "zlib-wrapper", version = "1.0.0", ecosystem = "PyPI" },
                new { name = "left-pad", version = "1.3.0", ecosystem = "npm" },
            },
        })).ShouldBeJsonAsync();
        return instance;
    }

    [Fact]
    public async Task Only_an_admin_imports_the_feed_and_bad_records_are_400()
    {
        var operatorClient = await As(BaseRole.Operator);
        await (await operatorClient.PostAsync("/api/v1/security/advisories/import", Json(Advisory))).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        var admin = await As(BaseRole.Admin);

        var imported = await (await admin.PostAsync("/api/v1/security/advisories/import", Json(Advisory))).ShouldBeJsonAsync();

        imported.PropertyNames().ShouldBe(["imported", "updated", "unchanged", "advisories"]);
        imported.GetProperty("imported").GetInt32().ShouldBe(2);
        (await (await admin.PostAsync("/api/v1/security/advisories/import", Json("{\"vulns\":[{\"id\":\"X\"}]}"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("records[0]", out _).ShouldBeTrue();
        await (await admin.PostAsync("/api/v1/security/advisories/import", Json("42"))).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_scan_stores_the_bom_and_detects_vulnerabilities()
    {
        var admin = await As(BaseRole.Admin);
        await admin.PostAsync("/api/v1/security/advisories/import", Json(Advisory));
        var box = await SeedInstanceAsync("box");
        var viewer = await As(BaseRole.Viewer);

        var scan = await (await viewer.PostJsonAsync($"/api/v1/security/scan/{box}", new
        {
            packages = new object[] { new { name = "lodash", version = "4.17.20", ecosystem = "npm", license = "MIT" }, new { name = "zlib-wrapper", version = "1.0.0", ecosystem = "PyPI" } },
        })).ShouldBeJsonAsync();

        scan.PropertyNames().ShouldBe(["instanceId", "instanceName", "scannedAt", "packagesScanned", "vulnerabilitiesDetected", "newVulnerabilitiesSaved", "resolvedVulnerabilities"]);
        scan.GetProperty("packagesScanned").GetInt32().ShouldBe(2);
        scan.GetProperty("vulnerabilitiesDetected").GetInt32().ShouldBe(2);
        scan.GetProperty("newVulnerabilitiesSaved").GetInt32().ShouldBe(2);
        var rescan = await (await viewer.PostAsync($"/api/v1/security/scan/{box}", null)).ShouldBeJsonAsync();
        rescan.GetProperty("newVulnerabilitiesSaved").GetInt32().ShouldBe(0);
        await (await viewer.PostJsonAsync($"/api/v1/security/scan/{Guid.CreateVersion7()}", new { })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        (await (await viewer.PostJsonAsync($"/api/v1/security/scan/{box}", new { packages = new[] { new { name = "x", ecosystem = "npm" } } }))
            .ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").EnumerateObject().Single().Name.ShouldContain("packages");
    }

    [Fact]
    public async Task Vulnerabilities_list_filter_and_show_detail()
    {
        var box = await ScannedInstanceAsync();
        var viewer = await As(BaseRole.Viewer);

        var list = await (await viewer.GetAsync("/api/v1/security/vulnerabilities")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["total", "page", "pageSize", "limit", "totalPages", "items", "data", "pagination"]);
        list.GetProperty("total").GetInt64().ShouldBe(2);
        var items = list.GetProperty("items");
        items[0].PropertyNames().ShouldBe(VulnerabilityFields);
        items[0].GetProperty("cveId").GetString().ShouldBe("CVE-2024-0001");
        items[0].GetProperty("severity").GetString().ShouldBe("CRITICAL");
        items[1].GetProperty("cveId").GetString().ShouldBe("CVE-2021-23337");
        items[1].GetProperty("fixVersion").GetString().ShouldBe("4.17.21");
        items[1].GetProperty("instanceName").GetString().ShouldBe("box");
        (await (await viewer.GetAsync("/api/v1/security/vulnerabilities?severity=high")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/security/vulnerabilities?ecosystem=PyPI")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync($"/api/v1/security/vulnerabilities?instanceId={Guid.CreateVersion7()}")).ShouldBeJsonAsync()).GetProperty("total").GetInt64().ShouldBe(0);
        await (await viewer.GetAsync("/api/v1/security/vulnerabilities?severity=URGENT")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await viewer.GetAsync("/api/v1/security/vulnerabilities?status=GONE")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var id = items[0].GetProperty("id").GetGuid();
        (await (await viewer.GetAsync($"/api/v1/security/vulnerabilities/{id}")).ShouldBeJsonAsync()).PropertyNames().ShouldBe(VulnerabilityFields);
        await (await viewer.GetAsync($"/api/v1/security/vulnerabilities/{Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        box.ShouldNotBe(Guid.Empty);
    }

    [Fact]
    public async Task Triage_moves_findings_and_refuses_invalid_transitions()
    {
        await ScannedInstanceAsync();
        var viewer = await As(BaseRole.Viewer);
        var items = (await (await viewer.GetAsync("/api/v1/security/vulnerabilities")).ShouldBeJsonAsync()).GetProperty("items");
        var first = items[0].GetProperty("id").GetGuid();
        var second = items[1].GetProperty("id").GetGuid();

        var acknowledged = await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{first}/acknowledge", null)).ShouldBeJsonAsync();
        acknowledged.GetProperty("status").GetString().ShouldBe("ACKNOWLEDGED");
        acknowledged.GetProperty("acknowledgedAt").ValueKind.ShouldBe(JsonValueKind.String);
        await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{first}/acknowledge", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        var fixedOne = await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{first}/fix", null)).ShouldBeJsonAsync();
        fixedOne.GetProperty("status").GetString().ShouldBe("FIXED");
        fixedOne.GetProperty("fixedAt").ValueKind.ShouldBe(JsonValueKind.String);
        await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{first}/false-positive", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        (await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{second}/false-positive", null)).ShouldBeJsonAsync())
            .GetProperty("status").GetString().ShouldBe("FALSE_POSITIVE");
        await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{Guid.CreateVersion7()}/fix", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{Guid.CreateVersion7()}/acknowledge", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.PostAsync($"/api/v1/security/vulnerabilities/{Guid.CreateVersion7()}/false-positive", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task The_bom_is_shown_per_instance_and_fleet_wide()
    {
        var box = await ScannedInstanceAsync();
        var viewer = await As(BaseRole.Viewer);

        var bom = await (await viewer.GetAsync($"/api/v1/security/bom?instanceId={box}")).ShouldBeJsonAsync();
        bom.PropertyNames().ShouldBe(["instanceId", "packages", "summary"]);
        bom.GetProperty("packages")[0].PropertyNames().ShouldBe(["name", "version", "ecosystem", "license", "scannedAt"]);
        bom.GetProperty("summary").GetProperty("total").GetInt64().ShouldBe(3);
        bom.GetProperty("summary").GetProperty("byEcosystem").GetProperty("npm").GetInt64().ShouldBe(2);

        var fleet = await (await viewer.GetAsync("/api/v1/security/bom")).ShouldBeJsonAsync();
        fleet.PropertyNames().ShouldBe(["totalPackages", "byEcosystem", "instancesScanned"]);
        fleet.GetProperty("totalPackages").GetInt64().ShouldBe(3);
        fleet.GetProperty("byEcosystem").GetProperty("pypi").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/security/bom?ecosystem=npm")).ShouldBeJsonAsync()).GetProperty("totalPackages").GetInt64().ShouldBe(2);
        await (await viewer.GetAsync($"/api/v1/security/bom?instanceId={Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Summary_and_compliance_report_the_posture()
    {
        var box = await ScannedInstanceAsync();
        var viewer = await As(BaseRole.Viewer);

        var summary = (await (await viewer.GetAsync("/api/v1/security/summary")).ShouldBeJsonAsync()).GetProperty("summary");
        summary.PropertyNames().ShouldBe(
            ["instanceId", "totalVulnerabilities", "bySeverity", "openCount", "acknowledgedCount", "overdueSecrets", "expiredSshKeys", "weakSshKeys", "securityScore"]);
        summary.GetProperty("bySeverity").PropertyNames().ShouldBe(["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"]);
        var score = summary.GetProperty("securityScore");
        score.PropertyNames().ShouldBe(["total", "breakdown", "grade"]);
        score.GetProperty("total").GetInt64().ShouldBe(70); // 60 − 20 (critical) − 10 (high) + 25 + 15
        score.GetProperty("grade").GetString().ShouldBe("C");
        score.GetProperty("breakdown").PropertyNames().ShouldBe(["vulnerabilities", "secretRotation", "sshKeys"]);
        await (await viewer.GetAsync($"/api/v1/security/summary?instanceId={Guid.CreateVersion7()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);

        var compliance = await (await viewer.GetAsync($"/api/v1/security/compliance?instanceId={box}")).ShouldBeJsonAsync();
        compliance.PropertyNames().ShouldBe(["instanceId", "compliancePercent", "passedChecks", "totalChecks", "checks", "securityScore", "generatedAt"]);
        compliance.GetProperty("checks")[0].PropertyNames().ShouldBe(["id", "name", "passed", "details"]);
        compliance.GetProperty("passedChecks").GetInt32().ShouldBe(3);
        compliance.GetProperty("compliancePercent").GetInt64().ShouldBe(60);
        await (await viewer.GetAsync("/api/v1/security/compliance?instanceId=nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Secret_rotations_are_recorded_listed_and_rotated()
    {
        var box = await SeedInstanceAsync("box");
        var viewer = await As(BaseRole.Viewer);

        var created = await (await viewer.PostJsonAsync("/api/v1/security/secrets", new { instanceId = box, secretName = "DB_PASSWORD", secretType = "password", lastRotated = DateTime.UtcNow.AddDays(-100), rotationDays = 90 }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        created.PropertyNames().ShouldBe(["id", "instanceId", "secretName", "secretType", "lastRotated", "nextRotation", "rotationDays", "isOverdue"]);
        created.GetProperty("isOverdue").GetBoolean().ShouldBeTrue();
        var updated = await (await viewer.PostJsonAsync("/api/v1/security/secrets", new { instanceId = box, secretName = "DB_PASSWORD", secretType = "password", lastRotated = DateTime.UtcNow.AddDays(-10) }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        updated.GetProperty("id").GetGuid().ShouldBe(created.GetProperty("id").GetGuid());
        updated.GetProperty("isOverdue").GetBoolean().ShouldBeFalse();
        await (await viewer.PostJsonAsync("/api/v1/security/secrets", new { instanceId = box, secretName = "API_KEY", secretType = "token" })).ShouldBeJsonAsync(HttpStatusCode.Created);

        var list = await (await viewer.GetAsync("/api/v1/security/secrets")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["secrets", "count"]);
        list.GetProperty("count").GetInt32().ShouldBe(2);
        var first = list.GetProperty("secrets")[0];
        first.PropertyNames().ShouldBe(["id", "instanceId", "instanceName", "secretName", "secretType", "lastRotated", "nextRotation", "rotationDays", "isOverdue", "daysSinceRotation"]);
        first.GetProperty("secretName").GetString().ShouldBe("API_KEY");
        list.GetProperty("secrets")[1].GetProperty("daysSinceRotation").GetInt64().ShouldBe(10);
        var overdue = await (await viewer.GetAsync("/api/v1/security/secrets?overdueOnly=true")).ShouldBeJsonAsync();
        overdue.GetProperty("count").GetInt32().ShouldBe(1);

        var rotated = await (await viewer.PostAsync($"/api/v1/security/secrets/{first.GetProperty("id").GetGuid()}/rotate", null)).ShouldBeJsonAsync();
        rotated.PropertyNames().ShouldBe(["id", "secretName", "lastRotated", "nextRotation", "isOverdue"]);
        rotated.GetProperty("isOverdue").GetBoolean().ShouldBeFalse();
        (await (await viewer.GetAsync("/api/v1/security/secrets?overdueOnly=true")).ShouldBeJsonAsync()).GetProperty("count").GetInt32().ShouldBe(0);
        await (await viewer.PostAsync($"/api/v1/security/secrets/{Guid.CreateVersion7()}/rotate", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.PostJsonAsync("/api/v1/security/secrets", new { instanceId = Guid.CreateVersion7(), secretName = "X", secretType = "t" })).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("{\"secretName\":\"X\",\"secretType\":\"t\"}", "instanceId")]
    [InlineData("{\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\",\"secretType\":\"t\"}", "secretName")]
    [InlineData("{\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\",\"secretName\":\"X\"}", "secretType")]
    [InlineData("{\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\",\"secretName\":\"X\",\"secretType\":\"t\",\"rotationDays\":0}", "rotationDays")]
    public async Task Bad_rotation_records_are_400(string json, string field)
    {
        var viewer = await As(BaseRole.Viewer);

        (await (await viewer.PostAsync("/api/v1/security/secrets", Json(json))).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Ssh_keys_are_registered_audited_and_revoked()
    {
        var box = await SeedInstanceAsync("box");
        var viewer = await As(BaseRole.Viewer);

        var weak = await (await viewer.PostJsonAsync("/api/v1/security/ssh-keys", new { instanceId = box, fingerprint = "SHA256:weakweak", keyType = "ssh-rsa", keyBits = 1024, comment = "old laptop" }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);
        weak.PropertyNames().ShouldBe(["id", "instanceId", "fingerprint", "keyType", "keyBits", "status", "isWeak"]);
        weak.GetProperty("isWeak").GetBoolean().ShouldBeTrue();
        await (await viewer.PostJsonAsync("/api/v1/security/ssh-keys", new { instanceId = box, fingerprint = "SHA256:weakweak", keyType = "ssh-rsa", keyBits = 1024 }))
            .ShouldBeJsonAsync(HttpStatusCode.OK);
        await (await viewer.PostJsonAsync("/api/v1/security/ssh-keys", new { instanceId = box, fingerprint = "SHA256:good", keyType = "ssh-ed25519", keyBits = 256, expiresAt = DateTime.UtcNow.AddDays(-1) }))
            .ShouldBeJsonAsync(HttpStatusCode.Created);

        var list = await (await viewer.GetAsync($"/api/v1/security/ssh-keys?instanceId={box}")).ShouldBeJsonAsync();
        list.PropertyNames().ShouldBe(["keys", "summary", "count"]);
        list.GetProperty("keys")[0].PropertyNames().ShouldBe(
            ["id", "instanceId", "instanceName", "fingerprint", "comment", "keyType", "keyBits", "status", "isWeak", "lastUsedAt", "createdAt", "expiresAt", "isExpired", "revokedAt"]);
        var summary = list.GetProperty("summary");
        summary.PropertyNames().ShouldBe(["total", "active", "revoked", "expired", "weak", "byType"]);
        summary.GetProperty("expired").GetInt64().ShouldBe(1);
        summary.GetProperty("weak").GetInt64().ShouldBe(1);
        (await (await viewer.GetAsync("/api/v1/security/ssh-keys?status=EXPIRED")).ShouldBeJsonAsync()).GetProperty("count").GetInt32().ShouldBe(1);
        await (await viewer.GetAsync("/api/v1/security/ssh-keys?status=LOST")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);

        var id = weak.GetProperty("id").GetGuid();
        var revoked = await (await viewer.PostAsync($"/api/v1/security/ssh-keys/{id}/revoke", null)).ShouldBeJsonAsync();
        revoked.PropertyNames().ShouldBe(["id", "fingerprint", "status", "revokedAt"]);
        revoked.GetProperty("status").GetString().ShouldBe("REVOKED");
        await (await viewer.PostAsync($"/api/v1/security/ssh-keys/{id}/revoke", null)).ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await viewer.PostJsonAsync("/api/v1/security/ssh-keys", new { instanceId = box, fingerprint = "SHA256:weakweak", keyType = "ssh-rsa" }))
            .ShouldBeErrorAsync(HttpStatusCode.Conflict);
        await (await viewer.PostAsync($"/api/v1/security/ssh-keys/{Guid.CreateVersion7()}/revoke", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.PostJsonAsync("/api/v1/security/ssh-keys", new { instanceId = Guid.CreateVersion7(), fingerprint = "SHA256:x", keyType = "rsa" }))
            .ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Theory]
    [InlineData("{\"fingerprint\":\"SHA256:x\",\"keyType\":\"rsa\"}", "instanceId")]
    [InlineData("{\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\",\"keyType\":\"rsa\"}", "fingerprint")]
    [InlineData("{\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\",\"fingerprint\":\"not a fingerprint\",\"keyType\":\"rsa\"}", "fingerprint")]
    [InlineData("{\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\",\"fingerprint\":\"SHA256:x\"}", "keyType")]
    [InlineData("{\"instanceId\":\"0195a0d0-0000-7000-8000-000000000001\",\"fingerprint\":\"SHA256:x\",\"keyType\":\"rsa\",\"keyBits\":128}", "keyBits")]
    public async Task Bad_ssh_keys_are_400(string json, string field)
    {
        var viewer = await As(BaseRole.Viewer);

        (await (await viewer.PostAsync("/api/v1/security/ssh-keys", Json(json))).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue();
    }
}
