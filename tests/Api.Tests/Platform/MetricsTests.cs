using System.Text.RegularExpressions;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Platform;

public sealed partial class MetricsTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task Metrics_are_prometheus_text_with_requests_by_route_and_status()
    {
        await Client.GetAsync("/api/v1/health");
        await Client.GetAsync("/api/v1/no-route-here");

        var response = await Client.GetAsync("/metrics");
        var text = await response.Content.ReadAsStringAsync();

        response.StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
        response.Content.Headers.ContentType!.ToString().ShouldStartWith("text/plain; version=0.0.4");
        text.ShouldContain("# TYPE http_server_request_duration_seconds histogram");
        HealthCount().IsMatch(text).ShouldBeTrue(text);
        text.ShouldMatch("http_server_request_duration_seconds_count\\{[^}]*http_response_status_code=\"404\"");
    }

    [Fact]
    public async Task Metrics_include_the_database_pool_process_and_handlers()
    {
        await Client.GetAsync("/health");

        var text = await (await Client.GetAsync("/metrics")).Content.ReadAsStringAsync();

        text.ShouldContain("db_client_connection_count{");
        text.ShouldContain("process_resident_memory_bytes ");
        text.ShouldContain("# TYPE process_cpu_seconds_total counter");
        text.ShouldContain("process_start_time_seconds ");
        text.ShouldMatch("capstan_handler_duration_seconds_count\\{outcome=\"ok\",request=\"GetServiceHealth.Query\"\\} [1-9]");
    }

    [Fact]
    public async Task Every_sample_line_is_valid_exposition_format()
    {
        await Client.GetAsync("/api/v1/health");

        var text = await (await Client.GetAsync("/metrics")).Content.ReadAsStringAsync();

        foreach (var line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            (line.StartsWith("# HELP ", StringComparison.Ordinal) || line.StartsWith("# TYPE ", StringComparison.Ordinal) || SampleLine().IsMatch(line))
                .ShouldBeTrue(line);
        }
    }

    [GeneratedRegex("http_server_request_duration_seconds_count\\{[^}]*http_route=\"/api/v1/health\"[^}]*\\} [1-9]")]
    private static partial Regex HealthCount();

    [GeneratedRegex("""^[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\]|\\.)*",?)*\})? [-+]?([0-9.eE+-]+|Inf|NaN)$""")]
    private static partial Regex SampleLine();
}
