using System.Net;
using System.Net.Http.Json;
using System.Text;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Pipeline;

/// <summary>Every failure leaves in the one error shape, with the status DESIGN §1.5 gives it.</summary>
[Collection(PipelineCollection.Name)]
public sealed class ErrorShapeTests(PipelineFixture fixture) : IAsyncLifetime
{
    private readonly HttpClient _client = fixture.CreateClient();

    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task Validation_failure_is_400_with_details_per_field()
    {
        var response = await _client.PostAsJsonAsync("/test/pipeline/validate", new { name = "", count = 99 });

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        body.GetProperty("error").GetString().ShouldBe("Bad Request");
        var details = body.GetProperty("details");
        details.GetProperty("name").EnumerateArray().ShouldNotBeEmpty();
        details.GetProperty("count")[0].GetString()!.ShouldContain("between 1 and 10");
        body.TryGetProperty("requestId", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task Valid_request_passes_the_pipeline()
    {
        var response = await _client.PostAsJsonAsync("/test/pipeline/validate", new { name = "ok", count = 3 });

        var body = await response.ShouldBeJsonAsync();
        body.GetProperty("name").GetString().ShouldBe("ok");
        body.GetProperty("count").GetInt32().ShouldBe(3);
    }

    [Fact]
    public async Task Malformed_json_is_400()
    {
        var response = await _client.PostAsync("/test/pipeline/validate", new StringContent("{\"name\": \"x\",", Encoding.UTF8, "application/json"));

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        body.GetProperty("message").GetString()!.ShouldStartWith("Malformed JSON body");
    }

    [Fact]
    public async Task Wrong_json_type_is_400_naming_the_path_without_type_names()
    {
        var response = await _client.PostAsync("/test/pipeline/validate", new StringContent("{\"name\": \"x\", \"count\": \"many\"}", Encoding.UTF8, "application/json"));

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        var message = body.GetProperty("message").GetString()!;
        message.ShouldContain("$.count");
        message.ShouldNotContain("System.");
    }

    [Fact]
    public async Task Deeply_nested_json_is_400()
    {
        var deep = new string('[', 200) + new string(']', 200);
        var response = await _client.PostAsync("/test/pipeline/validate", new StringContent("{\"name\": " + deep + "}", Encoding.UTF8, "application/json"));

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        body.GetProperty("message").GetString().ShouldBe("JSON body is nested too deeply");
    }

    [Fact]
    public async Task Missing_body_is_400()
    {
        var response = await _client.PostAsync("/test/pipeline/validate", new StringContent(string.Empty, Encoding.UTF8, "application/json"));

        await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Non_json_content_type_is_415()
    {
        var response = await _client.PostAsync("/test/pipeline/validate", new StringContent("name=x", Encoding.UTF8, "text/plain"));

        await response.ShouldBeErrorAsync(HttpStatusCode.UnsupportedMediaType);
    }

    [Fact]
    public async Task Unique_violation_is_409_without_database_details()
    {
        var response = await _client.PostAsync("/test/pipeline/conflict", null);

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.Conflict);
        body.GetRawText().ShouldNotContain("secret_constraint_name");
    }

    [Fact]
    public async Task Api_exception_keeps_its_status_and_message()
    {
        var response = await _client.GetAsync("/test/pipeline/missing");

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.NotFound);
        body.GetProperty("message").GetString().ShouldBe("Widget not found");
    }

    [Fact]
    public async Task Rate_limit_is_429_with_retry_after()
    {
        var response = await _client.GetAsync("/test/pipeline/rate-limited");

        await response.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests);
        response.Headers.RetryAfter!.Delta.ShouldBe(TimeSpan.FromSeconds(42));
    }

    [Fact]
    public async Task Unhandled_exception_is_500_with_request_id_and_nothing_internal()
    {
        var response = await _client.GetAsync("/test/pipeline/crash");

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.InternalServerError);
        var raw = body.GetRawText();
        raw.ShouldNotContain("hunter2");
        raw.ShouldNotContain("db.internal");
        raw.ShouldNotContain("InvalidOperationException");
        body.GetProperty("message").GetString().ShouldBe("An unexpected error occurred");
        body.GetProperty("requestId").GetString().ShouldBe(response.Headers.GetValues("X-Request-Id").Single());
        fixture.Logs.All.ShouldContain("internal detail");
    }

    [Fact]
    public async Task Unreachable_database_is_503()
    {
        var response = await _client.GetAsync("/test/pipeline/database-down");

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
        body.GetProperty("message").GetString().ShouldBe("Database unavailable");
        response.Headers.RetryAfter.ShouldNotBeNull();
    }

    [Fact]
    public async Task Unknown_route_is_404()
    {
        var response = await _client.GetAsync("/api/v1/no-such-thing");

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.NotFound);
        body.GetProperty("error").GetString().ShouldBe("Not Found");
    }

    [Fact]
    public async Task Wrong_method_is_405()
    {
        var response = await _client.DeleteAsync("/api/v1/health");

        await response.ShouldBeErrorAsync(HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task Unparseable_route_or_query_value_is_400_naming_it()
    {
        var badQuery = await _client.GetAsync("/test/pipeline/number/5?limit=ten");
        var body = await badQuery.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        body.GetProperty("details").GetProperty("limit").EnumerateArray().ShouldNotBeEmpty();

        var good = await _client.GetAsync("/test/pipeline/number/5?limit=10");
        (await good.ShouldBeJsonAsync()).GetProperty("limit").GetInt32().ShouldBe(10);
    }

    [Fact]
    public async Task Body_over_the_default_limit_is_413()
    {
        var big = new string('x', (1 << 20) + 10);
        var response = await _client.PostAsync("/test/pipeline/validate", new StringContent("{\"name\":\"" + big + "\"}", Encoding.UTF8, "application/json"));

        await response.ShouldBeErrorAsync(HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Route_limit_applies_to_chunked_bodies_too()
    {
        var chunked = new StreamContent(new MemoryStream(new byte[200]));
        chunked.Headers.ContentLength = null;
        var response = await _client.PostAsync("/test/pipeline/upload", chunked);
        await response.ShouldBeErrorAsync(HttpStatusCode.RequestEntityTooLarge);

        var small = await _client.PostAsync("/test/pipeline/upload", new StringContent("tiny"));
        (await small.ShouldBeJsonAsync()).GetInt32().ShouldBe(4);
    }
}
