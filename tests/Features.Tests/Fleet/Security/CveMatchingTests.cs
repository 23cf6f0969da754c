using System.Text.Json;
using Capstan.Features.Fleet.Security;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Features.Tests.Fleet.Security;

/// <summary>CVE detection: the version order, OSV range semantics, severity and id mapping, and a scan against a local
/// feed — every expectation worked out by hand from the records below.</summary>
public sealed class CveMatchingTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    // lodash: affected from 0 up to (not including) 4.17.21, fixed there. GHSA-style id with a CVE alias, HIGH by database severity.
    private const string Lodash = """
        {"id":"GHSA-35jh-r3h4-6jhm","aliases":["CVE-2021-23337"],"summary":"Command injection in lodash","details":"template() runs code",
         "modified":"2024-01-01T00:00:00Z","database_specific":{"severity":"HIGH"},
         "references":[{"type":"ADVISORY","url":"https://nvd.nist.gov/vuln/detail/CVE-2021-23337"}],
         "affected":[{"package":{"ecosystem":"npm","name":"lodash"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"4.17.21"}]}]}]}
        """;

    // requests (PyPI): two windows — [2.1.0, 2.3.0) fixed in 2.3.0 and [2.20.0, last_affected 2.31.0]; plus an explicit 1.0.0. CVSS 9.1 → CRITICAL.
    private const string Requests = """
        {"id":"PYSEC-2023-74","aliases":["GHSA-j8r2-6x86-q33q"],"summary":"","details":"Proxy-Authorization leak","severity":[{"type":"CVSS_V3","score":"9.1"}],
         "affected":[{"package":{"ecosystem":"PyPI","name":"Requests"},"versions":["1.0.0"],
                      "ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"2.1.0"},{"fixed":"2.3.0"},{"introduced":"2.20.0"},{"last_affected":"2.31.0"}]},
                                {"type":"GIT","repo":"https://github.com/psf/requests","events":[{"introduced":"0"},{"fixed":"abc123"}]}]}]}
        """;

    // A withdrawn advisory never matches.
    private const string Withdrawn = """
        {"id":"GHSA-xxxx-withdrawn","withdrawn":"2024-02-01T00:00:00Z","affected":[{"package":{"ecosystem":"npm","name":"lodash"},"ranges":[{"type":"SEMVER","events":[{"introduced":"0"}]}]}]}
        """;

    private static JsonElement Record(string json) => JsonDocument.Parse(json).RootElement.Clone();

    [Theory]
    [InlineData("1.0.0", "1.0.0", 0)]
    [InlineData("1.0", "1.0.0", 0)]
    [InlineData("v1.2.3", "1.2.3", 0)]
    [InlineData("1.2.3+build.7", "1.2.3", 0)]
    [InlineData("1.2.3", "1.2.10", -1)]
    [InlineData("1.10.0", "1.9.9", 1)]
    [InlineData("1.0.0-rc.1", "1.0.0", -1)]
    [InlineData("1.0.0-alpha", "1.0.0-beta", -1)]
    [InlineData("2.0rc1", "2.0", -1)]
    [InlineData("2.0.1", "2.0", 1)]
    [InlineData("4.17.20", "4.17.21", -1)]
    public void Versions_compare_piecewise(string left, string right, int expected)
    {
        OsvFeed.CompareVersions(left, right).ShouldBe(expected);
        OsvFeed.CompareVersions(right, left).ShouldBe(-expected);
    }

    [Theory]
    [InlineData("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8)]
    [InlineData("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1)]
    [InlineData("CVSS:3.0/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:N/A:N", 5.5)]
    [InlineData("CVSS:3.1/AV:N/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:N", 0.0)]
    public void Cvss3_vectors_give_their_base_score(string vector, double expected) =>
        OsvFeed.Cvss3BaseScore(vector).ShouldBe(expected);

    [Fact]
    public void Incomplete_or_other_vectors_give_no_score()
    {
        OsvFeed.Cvss3BaseScore("CVSS:3.1/AV:N/AC:L").ShouldBeNull();
        OsvFeed.Cvss3BaseScore("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").ShouldBeNull();
        OsvFeed.Parse(Record("""{"id":"X-9","severity":[{"type":"CVSS_V3","score":"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],"affected":[]}"""))
            .Advisory!.ShouldSatisfyAllConditions(advisory => advisory.Severity.ShouldBe("CRITICAL"), advisory => advisory.CvssScore.ShouldBe(9.8));
    }

    [Theory]
    [InlineData("npm", "lodash", "4.17.20", true, "4.17.21")]
    [InlineData("npm", "lodash", "0.1.0", true, "4.17.21")]
    [InlineData("npm", "lodash", "4.17.21", false, null)]
    [InlineData("npm", "lodash", "5.0.0", false, null)]
    [InlineData("npm", "LoDash", "4.0.0", true, "4.17.21")]
    [InlineData("PyPI", "lodash", "4.0.0", false, null)]
    public void A_fixed_event_closes_the_range(string ecosystem, string name, string version, bool affected, string? fix)
    {
        var (advisory, _) = OsvFeed.Parse(Record(Lodash));

        OsvFeed.Match(advisory!.AffectedJson, ecosystem, name, version).ShouldBe((affected, fix));
    }

    [Theory]
    [InlineData("1.0.0", true, "2.3.0")]   // listed explicitly; the lowest fixed above it is 2.3.0
    [InlineData("2.0.9", false, null)]     // before the first window
    [InlineData("2.1.0", true, "2.3.0")]   // introduced is inclusive
    [InlineData("2.2.9", true, "2.3.0")]
    [InlineData("2.3.0", false, null)]     // fixed is exclusive
    [InlineData("2.19.0", false, null)]    // between the windows
    [InlineData("2.20.0", true, null)]     // second window: no fix known, only last_affected
    [InlineData("2.31.0", true, null)]     // last_affected is inclusive
    [InlineData("2.31.1", false, null)]
    public void Ecosystem_ranges_with_several_windows_and_listed_versions(string version, bool affected, string? fix)
    {
        var (advisory, _) = OsvFeed.Parse(Record(Requests));

        OsvFeed.Match(advisory!.AffectedJson, "pypi", "requests", version).ShouldBe((affected, fix));
    }

    [Fact]
    public void Records_map_to_ids_severity_and_references()
    {
        var (lodash, _) = OsvFeed.Parse(Record(Lodash));
        var (requests, _) = OsvFeed.Parse(Record(Requests));

        lodash!.CveId.ShouldBe("CVE-2021-23337");
        lodash.Severity.ShouldBe("HIGH");
        lodash.Title.ShouldBe("Command injection in lodash");
        lodash.References.ShouldBe(["https://nvd.nist.gov/vuln/detail/CVE-2021-23337"]);
        lodash.Packages.ShouldBe([("npm", "lodash")]);
        requests!.CveId.ShouldBe("PYSEC-2023-74");
        requests.Severity.ShouldBe("CRITICAL");
        requests.CvssScore.ShouldBe(9.1);
        requests.Title.ShouldBe("PYSEC-2023-74");
        requests.Packages.ShouldBe([("pypi", "requests")]);
        OsvFeed.Parse(Record("""{"id":"X-1","severity":[{"type":"CVSS_V3","score":"6.5"}],"affected":[]}""")).Advisory!.Severity.ShouldBe("MEDIUM");
        OsvFeed.Parse(Record("""{"id":"X-2","database_specific":{"severity":"MODERATE"},"affected":[]}""")).Advisory!.Severity.ShouldBe("MEDIUM");
        OsvFeed.Parse(Record("""{"id":"X-3","affected":[]}""")).Advisory!.Severity.ShouldBe("UNKNOWN");
        OsvFeed.Parse(Record("""{"affected":[]}""")).Error.ShouldBe("an OSV record needs a string id");
        OsvFeed.Parse(Record("""{"id":"X-4"}""")).Error.ShouldBe("X-4: an OSV record needs an affected array");
    }

    [Fact]
    public async Task A_scan_matches_the_reported_bom_against_the_local_feed()
    {
        var box = await InstanceAsync("box");
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        var imported = await Fixture.SendAsAsync(admin, new ImportAdvisories.Command([Record(Lodash), Record(Requests), Record(Withdrawn)]));
        imported.Imported.ShouldBe(3);

        var scan = await Fixture.SendAsAsync(admin, new ScanInstance.Command(box,
        [
            new("lodash", "4.17.20", "npm", "MIT"),        // affected by GHSA-35jh (fix 4.17.21); the withdrawn one is ignored
            new("express", "4.18.2", "npm", "MIT"),        // no advisory
            new("requests", "2.2.0", "PyPI", "Apache-2.0"), // first window
            new("requests", "2.19.0", "PyPI", null),        // between windows: not affected
        ]));

        scan.PackagesScanned.ShouldBe(4);
        scan.VulnerabilitiesDetected.ShouldBe(2);
        scan.NewVulnerabilitiesSaved.ShouldBe(2);
        var found = await Fixture.QueryAsync<(string CveId, string PackageVersion, string Severity, string? FixVersion, string Status)>(
            "SELECT cve_id, package_version, severity, fix_version, status FROM fleet.vulnerabilities ORDER BY cve_id");
        found.ShouldBe([("CVE-2021-23337", "4.17.20", "HIGH", "4.17.21", "OPEN"), ("PYSEC-2023-74", "2.2.0", "CRITICAL", "2.3.0", "OPEN")]);

        // Acknowledged findings keep their status on a rescan; nothing new is saved.
        await Fixture.ExecuteAsync("UPDATE fleet.vulnerabilities SET status = 'ACKNOWLEDGED' WHERE cve_id = 'CVE-2021-23337'");
        var again = await Fixture.SendAsAsync(admin, new ScanInstance.Command(box, null));
        again.VulnerabilitiesDetected.ShouldBe(2);
        again.NewVulnerabilitiesSaved.ShouldBe(0);
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.vulnerabilities WHERE cve_id = 'CVE-2021-23337'")).ShouldBe("ACKNOWLEDGED");

        // The instance upgrades lodash: its finding is fixed; requests 2.2.0 is still there.
        var upgraded = await Fixture.SendAsAsync(admin, new ScanInstance.Command(box, [new("lodash", "4.17.21", "npm", "MIT"), new("requests", "2.2.0", "PyPI", null)]));
        upgraded.VulnerabilitiesDetected.ShouldBe(1);
        upgraded.ResolvedVulnerabilities.ShouldBe(1);
        (await Fixture.ScalarAsync<string>("SELECT status FROM fleet.vulnerabilities WHERE cve_id = 'CVE-2021-23337'")).ShouldBe("FIXED");
    }

    [Fact]
    public async Task Imports_keep_the_newer_record_and_refuse_non_osv_input()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await Fixture.SendAsAsync(admin, new ImportAdvisories.Command([Record(Lodash)]));
        var older = Lodash.Replace("2024-01-01", "2023-01-01", StringComparison.Ordinal).Replace("HIGH", "LOW", StringComparison.Ordinal);
        var newer = Lodash.Replace("2024-01-01", "2025-01-01", StringComparison.Ordinal).Replace("HIGH", "CRITICAL", StringComparison.Ordinal);

        (await Fixture.SendAsAsync(admin, new ImportAdvisories.Command([Record(older)]))).Unchanged.ShouldBe(1);
        (await Fixture.ScalarAsync<string>("SELECT severity FROM fleet.advisories")).ShouldBe("HIGH");
        (await Fixture.SendAsAsync(admin, new ImportAdvisories.Command([Record(newer)]))).Updated.ShouldBe(1);
        (await Fixture.ScalarAsync<string>("SELECT severity FROM fleet.advisories")).ShouldBe("CRITICAL");

        var error = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(admin, new ImportAdvisories.Command([Record(Requests), Record("""{"id":"Y"}""")])));
        error.Details!.Keys.ShouldBe(["records[1]"]);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.advisories")).ShouldBe(1);
    }

    [Fact]
    public async Task The_import_osv_verb_reads_files_and_directories()
    {
        var directory = Directory.CreateTempSubdirectory("capstan-osv-");
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "lodash.json"), Lodash);
            Directory.CreateDirectory(Path.Combine(directory.FullName, "pypi"));
            await File.WriteAllTextAsync(Path.Combine(directory.FullName, "pypi", "all.json"), $$"""{"vulns":[{{Requests}}]}""");
            var verb = new ImportAdvisoriesVerb();
            var output = new StringWriter();

            var code = await verb.RunAsync(Fixture.Services, [directory.FullName], output, CancellationToken.None);

            code.ShouldBe(0);
            output.ToString().Trim().ShouldBe("2 files, 2 records: 2 imported, 0 updated, 0 unchanged");
            (await Fixture.QueryAsync<string>("SELECT id FROM fleet.advisories ORDER BY id")).ShouldBe(["GHSA-35jh-r3h4-6jhm", "PYSEC-2023-74"]);
            (await Fixture.ScalarAsync<string>("SELECT actor_type || ':' || actor_name FROM identity.audit_log WHERE action = 'security.advisories.import'")).ShouldBe("system:import-osv");
            (await verb.RunAsync(Fixture.Services, [Path.Combine(directory.FullName, "missing.json")], new StringWriter(), CancellationToken.None)).ShouldBe(2);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
