using System.IO.Compression;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Pipeline;

/// <summary>List answers are compressed for clients that accept it; single resources and clients that do not ask get
/// plain JSON.</summary>
[Collection(PipelineCollection.Name)]
public sealed class ResponseCompressionTests(PipelineFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.ResetAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task A_list_is_gzipped_when_the_client_accepts_gzip()
    {
        var (client, _) = await fixture.ClientAsAsync(BaseRole.Admin);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/v1/users?limit=50");
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));

        using var response = await client.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentEncoding.ShouldBe(["gzip"]);
        response.Headers.Vary.ShouldContain("Accept-Encoding");
        await using var body = new GZipStream(await response.Content.ReadAsStreamAsync(), CompressionMode.Decompress);
        using var document = await JsonDocument.ParseAsync(body);
        document.RootElement.ValueKind.ShouldBe(JsonValueKind.Object);
    }

    [Fact]
    public async Task A_list_is_plain_when_the_client_does_not_ask()
    {
        var (client, _) = await fixture.ClientAsAsync(BaseRole.Admin);

        using var response = await client.GetAsync("/api/v1/users?limit=50");

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentEncoding.ShouldBeEmpty();
        await response.ShouldBeJsonAsync();
    }

    [Fact]
    public async Task A_single_resource_is_not_compressed()
    {
        var (client, _) = await fixture.ClientAsAsync(BaseRole.Admin);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/v1/api/profile");
        request.Headers.AcceptEncoding.Add(new StringWithQualityHeaderValue("gzip"));

        using var response = await client.SendAsync(request);

        response.StatusCode.ShouldBe(HttpStatusCode.OK);
        response.Content.Headers.ContentEncoding.ShouldBeEmpty();
    }
}
