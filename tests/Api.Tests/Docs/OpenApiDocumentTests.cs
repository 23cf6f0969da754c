using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Docs;

public sealed class OpenApiDocumentTests(ApiFixture fixture) : ApiTest(fixture)
{
    [Fact]
    public async Task The_document_is_openapi_3_1_with_operations_and_the_docs_routes()
    {
        var response = await Client.GetAsync("/api/docs/openapi.json");
        var document = await response.ShouldBeJsonAsync();

        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/json");
        document.GetProperty("openapi").GetString()!.ShouldStartWith("3.1");
        document.GetProperty("info").GetProperty("title").GetString().ShouldBe("Capstan API");
        var paths = document.GetProperty("paths");
        paths.GetProperty("/api/v1/health").GetProperty("get").GetProperty("summary").GetString().ShouldNotBeNullOrEmpty();
        paths.TryGetProperty("/api/docs", out _).ShouldBeTrue();
        paths.TryGetProperty("/api/docs/openapi.json", out _).ShouldBeTrue();
        paths.TryGetProperty("/api/docs/scalar.js", out _).ShouldBeFalse();
    }

    [Fact]
    public async Task The_reference_page_loads_the_embedded_bundle_not_a_cdn()
    {
        var page = await Client.GetStringAsync("/api/docs");
        var bundle = await Client.GetAsync("/api/docs/scalar.js");

        page.ShouldContain("/api/docs/scalar.js");
        page.ShouldContain("/api/docs/openapi.json");
        page.ShouldNotContain("cdn.jsdelivr");
        bundle.StatusCode.ShouldBe(System.Net.HttpStatusCode.OK);
        bundle.Content.Headers.ContentType!.MediaType.ShouldBe("text/javascript");
        (await bundle.Content.ReadAsByteArrayAsync()).Length.ShouldBeGreaterThan(100_000);
    }
}
