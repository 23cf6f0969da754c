using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet.Providers;

public sealed class ProviderTests(FleetFixture fixture) : FleetTest(fixture)
{
    [Fact]
    public async Task Providers_and_their_regions_are_listed()
    {
        var client = await As(BaseRole.Viewer);

        var providers = await (await client.GetAsync("/api/v1/providers")).ShouldBeJsonAsync();

        providers.PropertyNames().ShouldBe(["providers", "data"]);
        providers.GetProperty("providers").EnumerateArray().Select(item => item.GetProperty("id").GetString())
            .ShouldBe(["aws", "azure", "digitalocean", "docker", "e2b", "fly", "gcp", "kubernetes", "northflank", "runpod"]);
        providers.GetProperty("providers")[0].PropertyNames().ShouldBe(["id", "name", "description"]);
        var regions = await (await client.GetAsync("/api/v1/providers/fly/regions")).ShouldBeJsonAsync();
        regions.PropertyNames().ShouldBe(["provider", "regions", "data"]);
        regions.GetProperty("regions").GetArrayLength().ShouldBe(18);
        regions.GetProperty("regions")[0].PropertyNames().ShouldBe(["id", "name", "location"]);
        (await (await client.GetAsync("/api/v1/providers/mainframe/regions")).ShouldBeErrorAsync(HttpStatusCode.NotFound)).GetProperty("message").GetString()
            .ShouldBe("Provider 'mainframe' not found");
    }

    [Fact]
    public async Task The_compute_catalog_lists_sizes_with_prices_in_snake_case()
    {
        var client = await As(BaseRole.Viewer);

        var catalog = await (await client.GetAsync("/api/v1/providers/aws/compute-catalog?region=eu-west-1")).ShouldBeJsonAsync();

        catalog.PropertyNames().ShouldBe(["provider", "region", "sizes", "storage_pricing", "network_pricing", "fetched_at", "source"]);
        catalog.GetProperty("source").GetString().ShouldBe("static");
        var size = catalog.GetProperty("sizes")[0];
        size.PropertyNames().ShouldBe(["id", "name", "provider", "category", "vcpus", "memory_gb", "storage_gb", "price_per_hour", "price_per_month", "price_source", "regions"]);
        (size.GetProperty("id").GetString(), size.GetProperty("price_per_month").GetDecimal()).ShouldBe(("t3.micro", 7.59m));
        catalog.GetProperty("network_pricing").GetProperty("egress_free_gb").GetDecimal().ShouldBe(1m);
        await (await client.GetAsync("/api/v1/providers/aws/compute-catalog?region=mars-1")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        (await (await client.GetAsync("/api/v1/providers/kubernetes/compute-catalog")).ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable)).GetProperty("message").GetString()!
            .ShouldContain("Fleet:Pricing:ApiUrl");
        await (await client.GetAsync("/api/v1/providers/mainframe/compute-catalog")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_estimate_adds_disk_and_billable_egress()
    {
        var client = await As(BaseRole.Viewer);

        var estimate = await (await client.GetAsync("/api/v1/providers/aws/compute-catalog/estimate?size_id=t3.large&disk_gb=100&egress_gb=51")).ShouldBeJsonAsync();

        estimate.PropertyNames().ShouldBe(["provider", "sizeId", "diskGb", "egressGb", "compute", "storage", "network", "total", "currency"]);
        (estimate.GetProperty("compute").GetDecimal(), estimate.GetProperty("storage").GetDecimal(), estimate.GetProperty("network").GetDecimal(), estimate.GetProperty("total").GetDecimal())
            .ShouldBe((60.74m, 8.00m, 4.50m, 73.24m));
        (await (await client.GetAsync("/api/v1/providers/fly/compute-catalog/estimate?size_id=performance-1x")).ShouldBeJsonAsync()).GetProperty("total").GetDecimal().ShouldBe(34m);
        (await (await client.GetAsync("/api/v1/providers/aws/compute-catalog/estimate")).ShouldBeErrorAsync(HttpStatusCode.BadRequest)).GetProperty("details").TryGetProperty("size_id", out _)
            .ShouldBeTrue();
        await (await client.GetAsync("/api/v1/providers/aws/compute-catalog/estimate?size_id=t3.large&disk_gb=-1")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await client.GetAsync("/api/v1/providers/aws/compute-catalog/estimate?size_id=z9.huge")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task An_administrator_refreshes_a_catalog_from_its_data_file()
    {
        var admin = await As(BaseRole.Admin);

        var refreshed = await (await admin.PostAsync("/api/v1/providers/gcp/compute-catalog/refresh", null)).ShouldBeJsonAsync();

        refreshed.PropertyNames().ShouldBe(["message", "provider", "sizes_count", "source", "fetched_at"]);
        (refreshed.GetProperty("message").GetString(), refreshed.GetProperty("sizes_count").GetInt32(), refreshed.GetProperty("source").GetString()).ShouldBe(("Catalog refreshed", 6, "file"));
        (await Fixture.ScalarAsync<string>("SELECT source FROM fleet.provider_catalogs WHERE provider = 'gcp'")).ShouldBe("file");
        await (await admin.PostAsync("/api/v1/providers/mainframe/compute-catalog/refresh", null)).ShouldBeErrorAsync(HttpStatusCode.NotFound);
    }

    [Fact]
    public async Task Profiles_come_from_the_sindri_cli()
    {
        var client = await As(BaseRole.Viewer);

        var profiles = await (await client.GetAsync("/api/v1/profiles")).ShouldBeJsonAsync();

        profiles.PropertyNames().ShouldBe(["profiles", "data", "total"]);
        profiles.GetProperty("profiles").EnumerateArray().Select(item => (item.GetProperty("name").GetString(), item.GetProperty("extension_count").GetInt32()))
            .ShouldBe([("minimal", 2), ("fullstack", 3)]);
        profiles.GetProperty("profiles")[1].GetProperty("extensions").EnumerateArray().Select(item => item.GetString()).ShouldBe(["nodejs", "python", "docker"]);
    }
}
