using System.Net.Http.Json;
using System.Text.Json;
using System.Text.Json.Serialization;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Health;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Features.Fleet.Providers;

/// <summary>One provider's facts as its data file holds them (reference sindri.md §8.15 and §9.4): regions, compute
/// tiers with monthly and hourly prices, storage and egress prices. <see cref="CostModel"/> marks the providers the
/// cost model prices instances of (the others run on infrastructure the user pays for elsewhere).</summary>
public sealed record ProviderDocument(
    string Id,
    string Name,
    string Description,
    bool CostModel,
    string PriceSource,
    IReadOnlyList<ProviderRegion> Regions,
    IReadOnlyList<ComputeTier> ComputeTiers,
    StoragePrice Storage,
    NetworkPrice Network)
{
    /// <summary>The tier an instance is priced at when nothing says otherwise: the middle of the list.</summary>
    public ComputeTier? DefaultTier => ComputeTiers.Count == 0 ? null : ComputeTiers[ComputeTiers.Count / 2];

    public ComputeTier? Tier(string? id) => ComputeTiers.FirstOrDefault(tier => string.Equals(tier.Id, id, StringComparison.OrdinalIgnoreCase));
}

public sealed record ProviderRegion(string Id, string Name, string Location);

public sealed record ComputeTier(string Id, string Label, double Vcpu, double MemoryGb, decimal PricePerMonth, decimal PricePerHour, double? StorageGb = null);

public sealed record StoragePrice(decimal GbPerMonth);

public sealed record NetworkPrice(decimal EgressGbFree, decimal EgressGbPrice);

/// <summary>
/// The provider catalogs. The data files (<c>Fleet:Pricing:Directory</c>, by default the <c>pricing</c> folder shipped
/// beside the service) are loaded into <c>fleet.provider_catalogs</c> before the service reports ready, so every
/// replica prices from the same rows; a refresh reloads one provider from its file, or from
/// <c>Fleet:Pricing:ApiUrl</c> (<c>GET {url}/{provider}</c> answering the same document) when that is set.
/// </summary>
internal static class ProviderCatalog
{
    public const string HttpClientName = "fleet-pricing";

    internal static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { NumberHandling = JsonNumberHandling.AllowReadingFromString };

    private const string Upsert = """
        INSERT INTO fleet.provider_catalogs (provider, document, source, fetched_at)
        VALUES (@Provider, CAST(@Document AS jsonb), @Source, @Now)
        ON CONFLICT (provider) DO UPDATE SET document = EXCLUDED.document, source = EXCLUDED.source, fetched_at = EXCLUDED.fetched_at
        """;

    private const string SeedFile = """
        INSERT INTO fleet.provider_catalogs (provider, document, source, fetched_at)
        VALUES (@Provider, CAST(@Document AS jsonb), 'file', @Now)
        ON CONFLICT (provider) DO UPDATE SET document = EXCLUDED.document, fetched_at = EXCLUDED.fetched_at
        WHERE fleet.provider_catalogs.source = 'file' AND fleet.provider_catalogs.document <> EXCLUDED.document
        """;

    public sealed record Stored(ProviderDocument Document, string Source, DateTime FetchedAt);

    private sealed record Row(string Provider, string Document, string Source, DateTime FetchedAt);

    public static string Directory(IConfiguration configuration) =>
        configuration["Fleet:Pricing:Directory"] is { Length: > 0 } directory ? directory : Path.Combine(AppContext.BaseDirectory, "pricing");

    /// <summary>Every provider's document from the data files, by id.</summary>
    public static async Task<List<ProviderDocument>> ReadFilesAsync(IConfiguration configuration, CancellationToken cancellationToken)
    {
        var directory = Directory(configuration);
        if (!System.IO.Directory.Exists(directory))
        {
            throw new InvalidOperationException($"The provider pricing directory '{directory}' does not exist (Fleet:Pricing:Directory)");
        }

        var documents = new List<ProviderDocument>();
        foreach (var file in System.IO.Directory.EnumerateFiles(directory, "*.json").Order(StringComparer.Ordinal))
        {
            await using var stream = File.OpenRead(file);
            var document = await JsonSerializer.DeserializeAsync<ProviderDocument>(stream, Json, cancellationToken)
                ?? throw new InvalidOperationException($"Pricing file '{file}' is empty");
            documents.Add(Check(document, $"'{file}'"));
        }

        return documents;
    }

    /// <summary>Every stored catalog; providers without a row (a fresh or emptied table) come from their data files.</summary>
    public static async Task<List<Stored>> AllAsync(DbSession db, IConfiguration configuration, CancellationToken cancellationToken)
    {
        var stored = (await db.QueryAsync<Row>("SELECT provider, document::text AS document, source, fetched_at FROM fleet.provider_catalogs ORDER BY provider", null, cancellationToken))
            .Select(row => new Stored(JsonSerializer.Deserialize<ProviderDocument>(row.Document, Json)!, row.Source, row.FetchedAt))
            .ToDictionary(entry => entry.Document.Id, StringComparer.Ordinal);
        foreach (var file in await ReadFilesAsync(configuration, cancellationToken))
        {
            stored.TryAdd(file.Id, new Stored(file, "file", FileTime(configuration, file.Id)));
        }

        return [.. stored.Values.OrderBy(entry => entry.Document.Id, StringComparer.Ordinal)];
    }

    public static async Task<Stored?> FindAsync(DbSession db, IConfiguration configuration, string provider, CancellationToken cancellationToken)
    {
        var id = provider.Trim().ToLowerInvariant();
        if (await db.QuerySingleOrDefaultAsync<Row>(
                "SELECT provider, document::text AS document, source, fetched_at FROM fleet.provider_catalogs WHERE provider = @Provider", new { Provider = id }, cancellationToken) is { } row)
        {
            return new Stored(JsonSerializer.Deserialize<ProviderDocument>(row.Document, Json)!, row.Source, row.FetchedAt);
        }

        return (await ReadFilesAsync(configuration, cancellationToken)).FirstOrDefault(file => file.Id == id) is { } document
            ? new Stored(document, "file", FileTime(configuration, id))
            : null;
    }

    /// <summary>The provider's catalog, or 404 naming it.</summary>
    public static async Task<Stored> RequireAsync(DbSession db, IConfiguration configuration, string provider, CancellationToken cancellationToken) =>
        await FindAsync(db, configuration, provider, cancellationToken) ?? throw new NotFoundException($"Provider '{provider}' not found");

    /// <summary>Loads the data files into the table, leaving catalogs fetched from a provider API alone.</summary>
    public static async Task<int> SeedAsync(DbSession db, IConfiguration configuration, DateTime now, CancellationToken cancellationToken)
    {
        var changed = 0;
        foreach (var document in await ReadFilesAsync(configuration, cancellationToken))
        {
            changed += await db.ExecuteAsync(SeedFile, new { Provider = document.Id, Document = JsonSerializer.Serialize(document, Json), Now = now }, cancellationToken);
        }

        return changed;
    }

    /// <summary>Reloads one provider (from the API when configured, else its file) and stores it.</summary>
    public static async Task<Stored> RefreshAsync(
        DbSession db, IConfiguration configuration, IHttpClientFactory httpClients, string provider, DateTime now, CancellationToken cancellationToken)
    {
        var id = provider.Trim().ToLowerInvariant();
        ProviderDocument document;
        string source;
        if (configuration["Fleet:Pricing:ApiUrl"] is { Length: > 0 } apiUrl)
        {
            var client = httpClients.CreateClient(HttpClientName);
            var timeoutSeconds = configuration.GetValue("Fleet:Pricing:ApiTimeoutSeconds", 15);
            client.Timeout = TimeSpan.FromSeconds(timeoutSeconds);
            try
            {
                using var response = await client.GetAsync($"{apiUrl.TrimEnd('/')}/{Uri.EscapeDataString(id)}", cancellationToken);
                if (response.StatusCode == System.Net.HttpStatusCode.NotFound)
                {
                    throw new NotFoundException($"Provider '{provider}' not found");
                }

                if (!response.IsSuccessStatusCode)
                {
                    throw Undelivered(id, $"it answered HTTP {(int)response.StatusCode}");
                }

                document = Check(await response.Content.ReadFromJsonAsync<ProviderDocument>(Json, cancellationToken)
                    ?? throw new JsonException("the document is null"), "the pricing API");
            }
            catch (Exception exception) when (exception is HttpRequestException or JsonException or InvalidOperationException or TaskCanceledException && !cancellationToken.IsCancellationRequested)
            {
                // Say why, so an administrator can tell a down API from one that answers something else.
                throw Undelivered(id, exception switch
                {
                    TaskCanceledException => $"it did not answer within {timeoutSeconds} s",
                    HttpRequestException => "it could not be reached",
                    JsonException json => $"its answer is not a pricing document ({json.Message})",
                    _ => exception.Message,
                });
            }

            source = "api";
        }
        else
        {
            document = (await ReadFilesAsync(configuration, cancellationToken)).FirstOrDefault(file => file.Id == id)
                ?? throw new NotFoundException($"Provider '{provider}' not found");
            source = "file";
        }

        if (document.Id != id)
        {
            throw new ServiceUnavailableException($"The pricing source answered for '{document.Id}' instead of '{id}'");
        }

        await db.ExecuteAsync(Upsert, new { Provider = id, Document = JsonSerializer.Serialize(document, Json), Source = source, Now = now }, cancellationToken);
        return new Stored(document, source, now);
    }

    private static ServiceUnavailableException Undelivered(string id, string reason) =>
        new($"The pricing API (Fleet:Pricing:ApiUrl) did not deliver a catalog for '{id}': {reason}");

    private static DateTime FileTime(IConfiguration configuration, string id) =>
        File.GetLastWriteTimeUtc(Path.Combine(Directory(configuration), $"{id}.json"));

    private static ProviderDocument Check(ProviderDocument document, string origin)
    {
        if (string.IsNullOrWhiteSpace(document.Id) || document.Regions is null || document.ComputeTiers is null || document.Storage is null || document.Network is null
            || document.Regions.Any(region => region is null || string.IsNullOrWhiteSpace(region.Id))
            || document.ComputeTiers.Any(tier => tier is null || string.IsNullOrWhiteSpace(tier.Id) || tier.PricePerMonth < 0))
        {
            throw new InvalidOperationException(
                $"Pricing document from {origin} is incomplete or invalid: it needs id, regions (each with an id), computeTiers (each with an id and a price that is not negative), storage and network");
        }

        return document with { Id = document.Id.Trim().ToLowerInvariant(), PriceSource = document.PriceSource ?? "static" };
    }
}

/// <summary>Loads the pricing data files before the service reports ready.</summary>
public sealed class ProviderCatalogSeed(IServiceProvider services, ILogger<ProviderCatalogSeed> logger) : IStartupTask
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await using var scope = services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<DbSession>();
        var changed = await ProviderCatalog.SeedAsync(
            db, scope.ServiceProvider.GetRequiredService<IConfiguration>(), scope.ServiceProvider.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime, cancellationToken);
        if (changed > 0)
        {
            logger.LogInformation("Provider catalogs: {Changed} loaded from the pricing files", changed);
        }
    }
}
