using System.Net;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Pipeline;

/// <summary>The paging primitives accept every spelling the seeds use and refuse out-of-range input with a 400.</summary>
[Collection(PipelineCollection.Name)]
public sealed class PagingBindingTests(PipelineFixture fixture)
{
    private readonly HttpClient _client = fixture.CreateClient();

    [Theory]
    [InlineData("", 0, 25, 1)]
    [InlineData("?page=3&limit=10", 20, 10, 3)]
    [InlineData("?page=2&pageSize=50", 50, 50, 2)]
    [InlineData("?offset=40&limit=20", 40, 20, 3)]
    public async Task Page_and_size_come_from_any_spelling(string query, int offset, int size, int number)
    {
        var body = await (await _client.GetAsync("/test/pipeline/paging" + query)).ShouldBeJsonAsync();

        body.GetProperty("offset").GetInt32().ShouldBe(offset);
        body.GetProperty("size").GetInt32().ShouldBe(size);
        body.GetProperty("number").GetInt32().ShouldBe(number);
    }

    [Theory]
    [InlineData("?sort=createdAt&order=desc", "created_at DESC, id DESC")]
    [InlineData("?sortBy=created_at&sortOrder=asc", "created_at ASC, id ASC")]
    [InlineData("", "name ASC, id ASC")]
    public async Task Sort_keys_map_to_whitelisted_columns(string query, string orderBy)
    {
        var body = await (await _client.GetAsync("/test/pipeline/paging" + query)).ShouldBeJsonAsync();

        body.GetProperty("orderBy").GetString().ShouldBe(orderBy);
    }

    [Theory]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=101", "limit")]
    [InlineData("?pageSize=1000", "pageSize")]
    [InlineData("?page=0", "page")]
    [InlineData("?offset=-1", "offset")]
    [InlineData("?sort=password", "sort")]
    [InlineData("?sort=name;DROP TABLE x", "sort")]
    [InlineData("?order=sideways", "order")]
    [InlineData("?page=abc", "page")]
    public async Task Out_of_range_or_unknown_values_are_400(string query, string field)
    {
        var response = await _client.GetAsync("/test/pipeline/paging" + query);

        var body = await response.ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        body.GetProperty("details").TryGetProperty(field, out _).ShouldBeTrue(body.GetRawText());
    }
}
