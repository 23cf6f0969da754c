using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Providers;

/// <summary>The fleet service with <c>Fleet:Pricing:ApiUrl</c> pointing at an <see cref="HttpStandIn"/> that plays the
/// provider pricing API (<c>GET {url}/{provider}</c>), with a short deadline so a stand-in that does not answer times
/// out quickly.</summary>
public sealed class PricingApiFixture : ApiFixture, IAsyncLifetime
{
    public const int TimeoutSeconds = 3;

    private HttpStandIn? _pricing;

    public HttpStandIn Pricing => _pricing ?? throw new InvalidOperationException("The pricing stand-in is not started.");

    protected override string Purpose => "fleet_pricing";

    async Task IAsyncLifetime.InitializeAsync()
    {
        _pricing = await HttpStandIn.StartAsync();
        await InitializeAsync();
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        await DisposeAsync();
        if (_pricing is not null)
        {
            await _pricing.DisposeAsync();
        }
    }

    protected override ApiFactory CreateFactory(string connectionString) => new(connectionString, new Dictionary<string, string?>
    {
        ["Fleet:Pricing:ApiUrl"] = Pricing.Url("/pricing"),
        ["Fleet:Pricing:ApiTimeoutSeconds"] = TimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
    });
}

/// <summary><c>POST /api/v1/providers/{provider}/compute-catalog/refresh</c> from a configured provider API: the prices it
/// answers are stored and served by the catalog and estimate routes; when it fails, times out or answers something that
/// is not a pricing document the refresh is a 503 saying why, and the catalog stored before is still served.</summary>
public sealed class PricingApiRefreshTests(PricingApiFixture fixture) : ApiTest<PricingApiFixture>(fixture), IClassFixture<PricingApiFixture>
{
    /// <summary>Fly's catalog as the pricing API answers it: prices unlike those of the data file.</summary>
    private const string LiveFly = """
        {"id":"fly","name":"Fly.io","description":"Fly Machines","costModel":true,"priceSource":"fly-api",
         "regions":[{"id":"ams","name":"Amsterdam","location":"Netherlands"},{"id":"sea","name":"Seattle","location":"Washington (US)"}],
         "computeTiers":[{"id":"shared-cpu-1x","label":"Shared 1x","vcpu":1,"memoryGb":0.25,"pricePerMonth":2.50,"pricePerHour":0.0034},
                         {"id":"gpu-a10","label":"A10 GPU","vcpu":8,"memoryGb":32,"pricePerMonth":1095.00,"pricePerHour":1.50}],
         "storage":{"gbPerMonth":0.10},"network":{"egressGbFree":50,"egressGbPrice":0.05}}
        """;

    private HttpStandIn Pricing => Fixture.Pricing;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Pricing.Delay = TimeSpan.Zero;
        Pricing.Responses.Clear();
        Pricing.Requests.Clear();
        Pricing.ResponseBody = LiveFly;
    }

    private async Task<HttpClient> As(BaseRole role) => (await Fixture.ClientAsAsync(role)).Client;

    private static async Task<(string Source, string Sizes, decimal Estimate)> ServedAsync(HttpClient client)
    {
        var catalog = await (await client.GetAsync("/api/v1/providers/fly/compute-catalog")).ShouldBeJsonAsync();
        var estimate = await (await client.GetAsync("/api/v1/providers/fly/compute-catalog/estimate?size_id=shared-cpu-1x&disk_gb=100&egress_gb=150")).ShouldBeJsonAsync();
        var sizes = string.Join(", ", catalog.GetProperty("sizes").EnumerateArray().Select(size => $"{size.GetProperty("id").GetString()}={size.GetProperty("price_per_month").GetDecimal().ToString("0.####", System.Globalization.CultureInfo.InvariantCulture)}"));
        return (catalog.GetProperty("source").GetString()!, sizes, estimate.GetProperty("total").GetDecimal());
    }

    private async Task<string> StoredSourceAsync() =>
        await Fixture.ScalarAsync<string>("SELECT source FROM fleet.provider_catalogs WHERE provider = 'fly'") ?? "none";

    [Fact]
    public async Task A_refresh_stores_the_prices_the_provider_api_answers_and_the_catalog_and_estimate_serve_them()
    {
        var admin = await As(BaseRole.Admin);
        var viewer = await As(BaseRole.Viewer);
        (await ServedAsync(viewer)).Source.ShouldBe("static", "before the refresh the data file is served");

        var refreshed = await (await admin.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeJsonAsync();

        refreshed.PropertyNames().ShouldBe(["message", "provider", "sizes_count", "source", "fetched_at"]);
        (refreshed.GetProperty("message").GetString(), refreshed.GetProperty("provider").GetString(), refreshed.GetProperty("sizes_count").GetInt32(), refreshed.GetProperty("source").GetString())
            .ShouldBe(("Catalog refreshed", "fly", 2, "api"));
        var request = Pricing.Requests.ShouldHaveSingleItem();
        (request.Method, request.Path).ShouldBe(("GET", "/pricing/fly"));
        (await StoredSourceAsync()).ShouldBe("api");

        var catalog = await (await viewer.GetAsync("/api/v1/providers/fly/compute-catalog?region=sea")).ShouldBeJsonAsync();
        catalog.GetProperty("source").GetString().ShouldBe("live");
        catalog.GetProperty("region").GetString().ShouldBe("sea");
        var sizes = catalog.GetProperty("sizes").EnumerateArray().ToList();
        sizes.Select(size => (size.GetProperty("id").GetString(), size.GetProperty("price_per_month").GetDecimal(), size.GetProperty("price_per_hour").GetDecimal(), size.GetProperty("price_source").GetString()))
            .ShouldBe([("shared-cpu-1x", 2.50m, 0.0034m, "api"), ("gpu-a10", 1095.00m, 1.50m, "api")]);
        sizes[1].GetProperty("vcpus").GetDouble().ShouldBe(8);
        sizes[1].GetProperty("memory_gb").GetDouble().ShouldBe(32);
        catalog.GetProperty("storage_pricing").GetProperty("gb_per_month").GetDecimal().ShouldBe(0.10m);
        (catalog.GetProperty("network_pricing").GetProperty("egress_free_gb").GetDecimal(), catalog.GetProperty("network_pricing").GetProperty("egress_gb_price").GetDecimal()).ShouldBe((50m, 0.05m));
        (await (await viewer.GetAsync("/api/v1/providers/fly/compute-catalog?region=lhr")).ShouldBeErrorAsync(HttpStatusCode.BadRequest))
            .GetProperty("details").TryGetProperty("region", out _).ShouldBeTrue("the API's regions replace the file's");
        (await (await viewer.GetAsync("/api/v1/providers/fly/regions")).ShouldBeJsonAsync()).GetProperty("regions").EnumerateArray()
            .Select(region => region.GetProperty("id").GetString()).ShouldBe(["ams", "sea"]);

        // A month of shared-cpu-1x with 100 GB of disk and 150 GB of egress: 2.50 + 100 × 0.10 + (150 − 50) × 0.05.
        var estimate = await (await viewer.GetAsync("/api/v1/providers/fly/compute-catalog/estimate?size_id=shared-cpu-1x&disk_gb=100&egress_gb=150")).ShouldBeJsonAsync();
        (estimate.GetProperty("compute").GetDecimal(), estimate.GetProperty("storage").GetDecimal(), estimate.GetProperty("network").GetDecimal(), estimate.GetProperty("total").GetDecimal())
            .ShouldBe((2.50m, 10.00m, 5.00m, 17.50m));
        (await (await viewer.GetAsync("/api/v1/providers/fly/compute-catalog/estimate?size_id=gpu-a10&disk_gb=0&egress_gb=0")).ShouldBeJsonAsync()).GetProperty("total").GetDecimal()
            .ShouldBe(1095.00m, "a size only the API knows");
        await (await viewer.GetAsync("/api/v1/providers/fly/compute-catalog/estimate?size_id=performance-1x")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Only_an_administrator_refreshes_and_a_provider_the_api_does_not_know_is_a_404()
    {
        var viewer = await As(BaseRole.Viewer);
        var admin = await As(BaseRole.Admin);

        await (await viewer.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.Forbidden);
        Pricing.Requests.ShouldBeEmpty();

        Pricing.Responses.Enqueue(404);
        (await (await admin.PostAsync("/api/v1/providers/mainframe/compute-catalog/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound))
            .GetProperty("message").GetString().ShouldBe("Provider 'mainframe' not found");
        Pricing.Requests.ShouldHaveSingleItem().Path.ShouldBe("/pricing/mainframe");
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.provider_catalogs")).ShouldBe(0);
    }

    [Fact]
    public async Task A_failing_or_silent_provider_api_is_a_503_and_the_catalog_stored_before_is_still_served()
    {
        var admin = await As(BaseRole.Admin);
        var viewer = await As(BaseRole.Viewer);
        await (await admin.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeJsonAsync();
        var before = await ServedAsync(viewer);
        before.ShouldBe(("live", "shared-cpu-1x=2.5, gpu-a10=1095", 17.50m));
        var fetchedAt = await Fixture.ScalarAsync<DateTime>("SELECT fetched_at FROM fleet.provider_catalogs WHERE provider = 'fly'");

        // The API fails: it answers 500 (with a body that would otherwise be a good catalog).
        Pricing.ResponseBody = LiveFly.Replace("2.50", "9.99", StringComparison.Ordinal);
        Pricing.Responses.Enqueue(500);
        var failed = await (await admin.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
        failed.GetProperty("message").GetString().ShouldBe("The pricing API (Fleet:Pricing:ApiUrl) did not deliver a catalog for 'fly': it answered HTTP 500");

        // The API does not answer within the deadline.
        Pricing.Delay = TimeSpan.FromSeconds(60);
        var silent = await (await admin.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
        silent.GetProperty("message").GetString().ShouldBe($"The pricing API (Fleet:Pricing:ApiUrl) did not deliver a catalog for 'fly': it did not answer within {PricingApiFixture.TimeoutSeconds} s");
        Pricing.Requests.Count.ShouldBe(3);

        (await ServedAsync(viewer)).ShouldBe(before);
        (await Fixture.ScalarAsync<DateTime>("SELECT fetched_at FROM fleet.provider_catalogs WHERE provider = 'fly'")).ShouldBe(fetchedAt);
        (await StoredSourceAsync()).ShouldBe("api");
    }

    [Theory]
    [InlineData("not json at all", "its answer is not a pricing document")]
    [InlineData("[]", "its answer is not a pricing document")]
    [InlineData("null", "its answer is not a pricing document")]
    [InlineData("""{"id":"fly","name":"Fly.io"}""", "is incomplete or invalid")]
    [InlineData("""{"id":"fly","regions":[],"computeTiers":[{"id":"x","pricePerMonth":"cheap"}],"storage":{"gbPerMonth":1},"network":{"egressGbFree":0,"egressGbPrice":0}}""", "its answer is not a pricing document")]
    [InlineData("""{"id":"fly","regions":[],"computeTiers":[{"id":"x","pricePerMonth":-1}],"storage":{"gbPerMonth":1},"network":{"egressGbFree":0,"egressGbPrice":0}}""", "is incomplete or invalid")]
    [InlineData("""{"id":"fly","regions":[],"computeTiers":[{"id":"","pricePerMonth":1}],"storage":{"gbPerMonth":1},"network":{"egressGbFree":0,"egressGbPrice":0}}""", "is incomplete or invalid")]
    [InlineData("""{"id":"fly","regions":[null],"computeTiers":[{"id":"x","pricePerMonth":1}],"storage":{"gbPerMonth":1},"network":{"egressGbFree":0,"egressGbPrice":0}}""", "is incomplete or invalid")]
    [InlineData("""{"id":"fly","regions":[],"computeTiers":[null],"storage":{"gbPerMonth":1},"network":{"egressGbFree":0,"egressGbPrice":0}}""", "is incomplete or invalid")]
    public async Task Malformed_data_from_the_provider_api_is_a_503_saying_why_and_nothing_is_stored(string body, string reason)
    {
        var admin = await As(BaseRole.Admin);
        var viewer = await As(BaseRole.Viewer);
        await (await admin.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeJsonAsync();
        var before = await ServedAsync(viewer);

        Pricing.ResponseBody = body;
        var error = await (await admin.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);

        error.GetProperty("message").GetString()!.ShouldStartWith("The pricing API (Fleet:Pricing:ApiUrl) did not deliver a catalog for 'fly': ");
        error.GetProperty("message").GetString()!.ShouldContain(reason);
        (await ServedAsync(viewer)).ShouldBe(before);
        (await StoredSourceAsync()).ShouldBe("api");
    }

    [Fact]
    public async Task A_catalog_answered_for_another_provider_is_refused_and_nothing_is_stored()
    {
        var admin = await As(BaseRole.Admin);
        Pricing.ResponseBody = LiveFly.Replace("\"id\":\"fly\"", "\"id\":\"aws\"", StringComparison.Ordinal);

        (await (await admin.PostAsync("/api/v1/providers/fly/compute-catalog/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable))
            .GetProperty("message").GetString().ShouldBe("The pricing source answered for 'aws' instead of 'fly'");

        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM fleet.provider_catalogs")).ShouldBe(0);
        (await ServedAsync(await As(BaseRole.Viewer))).Source.ShouldBe("static");
    }
}
