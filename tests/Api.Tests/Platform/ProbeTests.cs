using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Platform;

/// <summary>The probes answer anonymously with the shapes of seeds 000, 003 and 004.</summary>
public sealed class ProbeTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Api_health_is_ok()
    {
        var body = await (await Client.GetAsync("/api/v1/health")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["status"]);
        body.GetProperty("status").GetString().ShouldBe("ok");
    }

    [Fact]
    public async Task Api_ready_is_ready_once_started()
    {
        var body = await (await Client.GetAsync("/api/v1/ready")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["status"]);
        body.GetProperty("status").GetString().ShouldBe("ready");
    }

    [Fact]
    public async Task Healthz_is_ok()
    {
        var body = await (await Client.GetAsync("/healthz")).ShouldBeJsonAsync();

        body.GetProperty("status").GetString().ShouldBe("ok");
    }

    [Fact]
    public async Task Readyz_is_ready_without_failures()
    {
        var body = await (await Client.GetAsync("/readyz")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["status"]);
        body.GetProperty("status").GetString().ShouldBe("ready");
    }

    [Fact]
    public async Task Service_health_reports_database_latency_in_the_seed_004_shape()
    {
        var body = await (await Client.GetAsync("/health")).ShouldBeJsonAsync();

        body.PropertyNames().ShouldBe(["status", "version", "uptime", "totalLatencyMs", "checks"]);
        body.GetProperty("status").GetString().ShouldBe("ok");
        body.GetProperty("uptime").GetInt64().ShouldBeGreaterThanOrEqualTo(0);
        var database = body.GetProperty("checks").GetProperty("database");
        database.GetProperty("status").GetString().ShouldBe("ok");
        database.GetProperty("latencyMs").GetDouble().ShouldBeGreaterThanOrEqualTo(0);
        database.TryGetProperty("error", out _).ShouldBeFalse();
    }
}
