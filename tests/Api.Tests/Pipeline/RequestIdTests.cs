namespace Capstan.Api.Tests.Pipeline;

[Collection(PipelineCollection.Name)]
public sealed class RequestIdTests(PipelineFixture fixture)
{
    private readonly HttpClient _client = fixture.CreateClient();

    [Fact]
    public async Task A_safe_incoming_request_id_is_echoed()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/health");
        request.Headers.Add("X-Request-Id", "trace-123.abc");

        var response = await _client.SendAsync(request);

        response.Headers.GetValues("X-Request-Id").Single().ShouldBe("trace-123.abc");
    }

    [Fact]
    public async Task An_unsafe_or_missing_request_id_is_replaced_by_a_uuid()
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/health");
        request.Headers.TryAddWithoutValidation("X-Request-Id", "<script>" + new string('a', 200));

        var response = await _client.SendAsync(request);
        var plain = await _client.GetAsync("/api/v1/health");

        Guid.TryParse(response.Headers.GetValues("X-Request-Id").Single(), out var generated).ShouldBeTrue();
        generated.Version.ShouldBe(7);
        Guid.TryParse(plain.Headers.GetValues("X-Request-Id").Single(), out _).ShouldBeTrue();
    }

    [Fact]
    public async Task Errors_carry_the_request_id_header_too()
    {
        var response = await _client.GetAsync("/api/v1/does-not-exist");

        response.Headers.Contains("X-Request-Id").ShouldBeTrue();
        response.Headers.GetValues("X-Content-Type-Options").Single().ShouldBe("nosniff");
    }

    [Fact]
    public async Task Each_request_is_logged_once_without_its_query_string()
    {
        fixture.Logs.Clear();
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/health?ticket=secret-ticket-value");
        request.Headers.Add("X-Request-Id", "log-line-check");

        await _client.SendAsync(request);

        var lines = fixture.Logs.Lines.Where(line => line.Contains("log-line-check", StringComparison.Ordinal) && line.Contains("HTTP GET", StringComparison.Ordinal)).ToList();
        lines.Count.ShouldBe(1);
        lines[0].ShouldContain("/api/v1/health");
        lines[0].ShouldContain("200");
        fixture.Logs.All.ShouldNotContain("secret-ticket-value");
    }
}
