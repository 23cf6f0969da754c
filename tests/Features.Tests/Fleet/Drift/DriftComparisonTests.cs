using System.Text.Json.Nodes;
using Capstan.Features.Fleet.Drift;

namespace Capstan.Features.Tests.Fleet.Drift;

/// <summary>The drift comparator's rules, one by one.</summary>
public sealed class DriftComparisonTests
{
    private static List<DriftComparison.Finding> Compare(string declared, string actual) =>
        DriftComparison.Compare(JsonNode.Parse(declared)!.AsObject(), JsonNode.Parse(actual)!.AsObject());

    [Fact]
    public void Provider_and_region_changes_are_critical_and_high()
    {
        var findings = Compare("""{"provider":"fly","region":"sea"}""", """{"provider":"aws","region":"us-east-1"}""");

        findings.Select(finding => (finding.FieldPath, finding.Severity)).ShouldBe([("provider", "CRITICAL"), ("region", "HIGH")]);
    }

    [Fact]
    public void Extensions_missing_outdated_and_undeclared()
    {
        var findings = Compare(
            """{"extensions":[{"name":"nodejs","version":"22"},{"name":"python"},{"name":"go"}]}""",
            """{"extensions":[{"name":"nodejs","status":"active","version":"20"},{"name":"go","status":"failed"},{"name":"rust","status":"active"}]}""");

        findings.Select(finding => (finding.FieldPath, finding.Severity, finding.Command)).ShouldBe(
        [
            ("extensions.nodejs.version", "MEDIUM", "sindri extension upgrade nodejs@22"),
            ("extensions.python.present", "HIGH", "sindri extension install python"),
            ("extensions.go.present", "HIGH", "sindri extension install go"),
            ("extensions.rust.declared", "LOW", null),
        ]);
    }

    [Fact]
    public void Environment_differences_and_secrets_redacted()
    {
        var findings = Compare(
            """{"env":{"DB_PASSWORD":"a","LOG_LEVEL":"debug","MODE":"dev","PORT":"80"}}""",
            """{"env":{"DB_PASSWORD":"b","LOG_LEVEL":"info","PORT":"80"}}""");

        findings.Select(finding => (finding.FieldPath, finding.Severity, finding.DeclaredVal, finding.ActualVal, finding.Command)).ShouldBe(
        [
            ("env.DB_PASSWORD", "HIGH", "<redacted>", "<redacted>", null),
            ("env.LOG_LEVEL", "MEDIUM", "debug", "info", "sindri env set LOG_LEVEL=\"debug\""),
            ("env.MODE", "HIGH", "dev", null, "sindri env set MODE=\"dev\""),
        ]);
    }

    [Fact]
    public void Unreported_env_decides_nothing()
    {
        Compare("""{"env":{"MODE":"dev"}}""", """{}""").ShouldBeEmpty();
    }

    [Fact]
    public void Resources_compare_cpus_exactly_and_memory_within_ten_percent()
    {
        Compare("""{"resources":{"cpus":4,"memory_gb":8}}""", """{"resources":{"cpus":4,"memory_gb":7.6}}""").ShouldBeEmpty(); // 5 % off
        Compare("""{"resources":{"cpus":4,"memory_gb":8}}""", """{"resources":{"cpus":2,"memory_gb":6}}""")
            .Select(finding => (finding.FieldPath, finding.Severity, finding.ActualVal)).ShouldBe([("resources.cpus", "HIGH", "2"), ("resources.memory_gb", "MEDIUM", "6")]);
    }

    [Fact]
    public void Network_hostname_and_closed_ports()
    {
        Compare("""{"network":{"hostname":"dev","ports":[22,8080]}}""", """{"network":{"hostname":"box","ports":[22]}}""")
            .Select(finding => (finding.FieldPath, finding.Severity, finding.Command))
            .ShouldBe([("network.hostname", "MEDIUM", null), ("network.ports.8080", "HIGH", "sindri ports open 8080")]);
    }
}
