using System.Net;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Pipeline;

/// <summary>Unversioned /api/* is served as /api/v1/* (seed 000), except the docs.</summary>
[Collection(PipelineCollection.Name)]
public sealed class PathRewriteTests(PipelineFixture fixture)
{
    private readonly HttpClient _client = fixture.CreateClient();

    [Fact]
    public async Task Unversioned_api_path_reaches_the_v1_route()
    {
        var body = await (await _client.GetAsync("/api/health")).ShouldBeJsonAsync();

        body.GetProperty("status").GetString().ShouldBe("ok");
    }

    [Fact]
    public async Task Docs_are_not_rewritten()
    {
        var response = await _client.GetAsync("/api/docs/openapi.json");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task Unknown_unversioned_path_is_a_404_naming_the_v1_path()
    {
        var body = await (await _client.GetAsync("/api/nothing-here")).ShouldBeErrorAsync(HttpStatusCode.NotFound);

        body.GetProperty("message").GetString()!.ShouldContain("/api/v1/nothing-here");
    }
}
