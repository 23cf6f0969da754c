using System.Text.Json;
using Capstan.Features.Fleet.Providers;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using FluentValidation;

namespace Capstan.Features.Tests.Fleet.Providers;

/// <summary>The provider catalogs (list, regions, compute sizes, estimates, refresh) through the pipeline: the pricing
/// files shipped with the service, and stored catalogs taking precedence over them.</summary>
public sealed class ProviderCatalogHandlerTests(FleetHandlerFixture fixture) : FleetHandlerTest(fixture)
{
    private static readonly string[] FileProviders = ["aws", "azure", "digitalocean", "docker", "e2b", "fly", "gcp", "kubernetes", "northflank", "runpod"];

    /// <summary>Stores a catalog row as a pricing API would have delivered it: one region, one size.</summary>
    private Task StoreCatalogAsync(string id, string name, string source = "api", decimal pricePerMonth = 50m, DateTime? fetchedAt = null)
    {
        var document = new ProviderDocument(
            id, name, $"{name} from the API", true, "live",
            [new ProviderRegion("moon-1", "Moon", "Sea of Tranquility")],
            [new ComputeTier("tiny", "Tiny", 0.5, 1, pricePerMonth, 0.07m, 10)],
            new StoragePrice(0.5m),
            new NetworkPrice(10, 0.1m));
        return Fixture.ExecuteAsync(
            "INSERT INTO fleet.provider_catalogs (provider, document, source, fetched_at) VALUES (@Id, CAST(@Document AS jsonb), @Source, @FetchedAt)",
            new { Id = id, Document = JsonSerializer.Serialize(document, ProviderCatalog.Json), Source = source, FetchedAt = fetchedAt ?? DateTime.UtcNow });
    }

    [Fact]
    public async Task Providers_come_from_the_pricing_files_and_stored_catalogs_ordered_by_id()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await StoreCatalogAsync("fly", "Fly (live)");
        await StoreCatalogAsync("custom", "Custom cloud");

        var providers = await Fixture.SendAsAsync(viewer, new ListProviders.Query());

        providers.Providers.Select(provider => provider.Id).ShouldBe(FileProviders.Append("custom").Order(StringComparer.Ordinal).ToArray());
        providers.Providers.Single(provider => provider.Id == "fly").ShouldBe(new ListProviders.Provider("fly", "Fly (live)", "Fly (live) from the API"));
        providers.Providers.Single(provider => provider.Id == "docker").Name.ShouldBe("Docker");
        providers.Data.ShouldBe(providers.Providers);
    }

    [Fact]
    public async Task Regions_are_the_providers_own_and_unknown_providers_are_not_found()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await StoreCatalogAsync("custom", "Custom cloud");

        var fly = await Fixture.SendAsAsync(viewer, new ListRegions.Query(" FLY "));
        var custom = await Fixture.SendAsAsync(viewer, new ListRegions.Query("custom"));

        fly.Provider.ShouldBe("fly");
        fly.Regions.Count.ShouldBe(18);
        fly.Regions[0].ShouldBe(new ProviderRegion("ams", "Amsterdam", "Netherlands"));
        custom.Regions.ShouldBe([new ProviderRegion("moon-1", "Moon", "Sea of Tranquility")]);
        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new ListRegions.Query("mars")))).Message.ShouldBe("Provider 'mars' not found");
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListRegions.Query("")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new ListRegions.Query(new string('p', 65))));
    }

    [Fact]
    public async Task The_compute_catalog_of_a_pricing_file_is_static_and_narrows_to_a_region()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var all = await Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("fly", null));
        var paris = await Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("fly", " cdg "));

        (all.Provider, all.Region, all.Source).ShouldBe(("fly", (string?)null, "static"));
        all.Sizes.Select(size => size.Id).ShouldBe(["shared-cpu-1x", "shared-cpu-1x-512", "shared-cpu-2x", "performance-1x", "performance-2x", "performance-4x", "performance-8x"]);
        var performance = all.Sizes[3];
        (performance.Name, performance.Provider, performance.Category, performance.Vcpus, performance.MemoryGb, performance.PricePerMonth, performance.PricePerHour, performance.PriceSource)
            .ShouldBe(("Performance 1x", "fly", "cpu", 1.0, 2.0, 31m, 0.0425m, "static"));
        performance.Regions.Count.ShouldBe(18);
        all.StoragePricing.ShouldBe(new GetComputeCatalog.StoragePricing(0.15m));
        all.NetworkPricing.ShouldBe(new GetComputeCatalog.NetworkPricing(0.02m, 100m));
        paris.Region.ShouldBe("cdg");
        paris.Sizes.ShouldAllBe(size => size.Regions.Count == 1 && size.Regions[0] == "cdg");
    }

    [Fact]
    public async Task A_catalog_fetched_from_the_api_is_served_live_in_place_of_the_file()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        var fetchedAt = new DateTime(2026, 3, 4, 5, 6, 7, DateTimeKind.Utc);
        await StoreCatalogAsync("fly", "Fly (live)", fetchedAt: fetchedAt);

        var catalog = await Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("fly", null));

        (catalog.Source, catalog.FetchedAt).ShouldBe(("live", fetchedAt));
        var size = catalog.Sizes.ShouldHaveSingleItem();
        (size.Id, size.Name, size.Provider, size.Vcpus, size.MemoryGb, size.StorageGb, size.PricePerHour, size.PricePerMonth, size.PriceSource)
            .ShouldBe(("tiny", "Tiny", "fly", 0.5, 1.0, (double?)10, 0.07m, 50m, "api"));
        size.Regions.ShouldBe(["moon-1"]);
    }

    [Fact]
    public async Task The_compute_catalog_refuses_unknown_regions_providers_and_providers_without_sizes()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var region = await Should.ThrowAsync<BadRequestException>(() => Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("fly", "moon-1")));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("mars", null)));
        var empty = await Should.ThrowAsync<ServiceUnavailableException>(() => Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("digitalocean", null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("", null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new GetComputeCatalog.Query("fly", new string('r', 65))));

        region.Details!["region"].Single().ShouldStartWith("region must be one of the regions of fly: ams, arn,");
        empty.Message.ShouldStartWith("No compute catalog for provider 'digitalocean'");
    }

    [Fact]
    public async Task An_estimate_prices_compute_disk_and_egress_beyond_the_free_allowance()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        var estimate = await Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", "PERFORMANCE-1X", 100, 150));
        var defaults = await Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", "performance-1x", null, null));

        // 31.00 compute + 100 GB × 0.15 + (150 − 100 free) GB × 0.02.
        estimate.ShouldBe(new EstimateCompute.Response("fly", "performance-1x", 100, 150, 31m, 15m, 1m, 47m, "USD"));
        // 20 GB of disk and 10 GB of egress (inside the 100 GB free) when not given.
        defaults.ShouldBe(new EstimateCompute.Response("fly", "performance-1x", 20, 10, 31m, 3m, 0m, 34m, "USD"));
    }

    [Fact]
    public async Task An_estimate_uses_the_stored_catalog_when_there_is_one()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);
        await StoreCatalogAsync("fly", "Fly (live)", pricePerMonth: 12.346m);

        var estimate = await Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", "tiny", 2, 30));

        // 12.35 compute + 2 GB × 0.50 + (30 − 10 free) GB × 0.10.
        estimate.ShouldBe(new EstimateCompute.Response("fly", "tiny", 2, 30, 12.35m, 1m, 2m, 15.35m, "USD"));
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", "performance-1x", null, null)));
    }

    [Fact]
    public async Task An_estimate_refuses_unknown_sizes_and_providers_and_out_of_range_inputs()
    {
        var viewer = await Fixture.CreateUserAsync(BaseRole.Viewer);

        (await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", "huge", null, null)))).Message
            .ShouldBe("Size 'huge' not found for provider 'fly'");
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(viewer, new EstimateCompute.Query("mars", "huge", null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", null, null, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", "performance-1x", -1, null)));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(viewer, new EstimateCompute.Query("fly", "performance-1x", null, 10_000_001)));
    }

    [Fact]
    public async Task A_refresh_reloads_the_file_over_a_stored_catalog_and_is_audited()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await StoreCatalogAsync("fly", "Fly (live)", fetchedAt: DateTime.UtcNow.AddDays(-3));
        var before = DateTime.UtcNow.AddSeconds(-5);

        var refreshed = await Fixture.SendAsAsync(admin, new RefreshComputeCatalog.Command(" Fly "));

        (refreshed.Message, refreshed.Provider, refreshed.SizesCount, refreshed.Source).ShouldBe(("Catalog refreshed", "fly", 7, "file"));
        refreshed.FetchedAt.ShouldBeGreaterThan(before);
        var stored = await Fixture.QueryAsync<(string Source, string Name, int Sizes)>(
            "SELECT source, document->>'name', jsonb_array_length(document->'computeTiers') FROM fleet.provider_catalogs WHERE provider = 'fly'");
        stored.ShouldBe([("file", "Fly.io", 7)]);
        (await Fixture.QueryAsync<string>("SELECT action || ' ' || actor_id || ' ' || resource_name FROM identity.audit_log WHERE resource_id = 'fly'"))
            .ShouldBe([$"catalog.refresh {admin.Id} Fly.io"]);
        (await Fixture.SendAsAsync(admin, new GetComputeCatalog.Query("fly", null))).Source.ShouldBe("static");
    }

    [Fact]
    public async Task A_refresh_of_an_unknown_provider_is_not_found_and_an_empty_one_invalid()
    {
        var admin = await Fixture.CreateUserAsync(BaseRole.Admin);
        await StoreCatalogAsync("custom", "Custom cloud");

        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new RefreshComputeCatalog.Command("mars")));
        // A catalog only the API delivered has no file to reload from.
        await Should.ThrowAsync<NotFoundException>(() => Fixture.SendAsAsync(admin, new RefreshComputeCatalog.Command("custom")));
        await Should.ThrowAsync<ValidationException>(() => Fixture.SendAsAsync(admin, new RefreshComputeCatalog.Command(" ")));
        (await Fixture.QueryAsync<string>("SELECT source FROM fleet.provider_catalogs")).ShouldBe(["api"]);
    }
}
