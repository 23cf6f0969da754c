using System.Net;
using System.Net.Http.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Access;

/// <summary>Discovery: agents bulk-upsert metadata keyed by (cluster, provider, ref); users read it through the shared
/// <c>/api/v1/secrets</c> resource with seed 003's filters.</summary>
public sealed class DiscoveredSecretTests(AccessFixture fixture) : AccessTest(fixture)
{
    [Fact]
    public async Task A_bulk_report_upserts_by_cluster_provider_and_ref()
    {
        using var agent = await MintAgentAsync();

        var first = await (await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new
        {
            cluster_name = "eu-1",
            provider_type = "vault",
            provider_config = new { mount = "kv" },
            items = new object[]
            {
                new { secret_ref = "apps/db", labels = new { team = "payments" }, version = "3", created_at_source = "2024-01-02T03:04:05Z" },
                new { secret_ref = "apps/cache", checksum = "" },
            },
        })).ShouldBeJsonAsync();
        first.PropertyNames().ShouldBe(["upserted_ids", "count"]);
        first.GetProperty("count").GetInt32().ShouldBe(2);
        var dbId = first.GetProperty("upserted_ids")[0].GetGuid();
        var firstSeen = await Fixture.ScalarAsync<DateTime>("SELECT first_seen_at FROM access.discovered_secrets WHERE id = @Id", new { Id = dbId });

        var second = await (await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new
        {
            cluster_name = "eu-1",
            provider_type = "vault",
            items = new object[] { new { secret_ref = "apps/db", labels = new { team = "billing" }, version = "4" }, new { secret_ref = "apps/db", version = "5" } },
        })).ShouldBeJsonAsync();

        second.GetProperty("upserted_ids")[0].GetGuid().ShouldBe(dbId, "the same (cluster, provider, ref) is the same row");
        second.GetProperty("count").GetInt32().ShouldBe(1, "a ref reported twice in one batch counts once, the last report wins");
        var row = await Fixture.QueryAsync<(string Version, string Labels, DateTime FirstSeen, DateTime? CreatedAtSource, string? Checksum)>(
            "SELECT version, labels::text, first_seen_at, created_at_source, checksum FROM access.discovered_secrets WHERE id = @Id", new { Id = dbId });
        row[0].Version.ShouldBe("5");
        row[0].Labels.ShouldBe("{}");
        row[0].FirstSeen.ShouldBe(firstSeen);
        row[0].CreatedAtSource.ShouldBe(new DateTime(2024, 1, 2, 3, 4, 5, DateTimeKind.Utc), "source timestamps are kept when not sent again");
        (await Fixture.ScalarAsync<string?>("SELECT checksum FROM access.discovered_secrets WHERE secret_ref = 'apps/cache'")).ShouldBeNull("empty strings are stored as null");
        (await Fixture.ScalarAsync<string>("SELECT actor_type FROM identity.audit_log WHERE action = 'discovery.upsert' LIMIT 1")).ShouldBe("agent");
    }

    [Fact]
    public async Task A_bad_report_is_refused_whole_with_the_item_named()
    {
        using var agent = await MintAgentAsync();

        var empty = await (await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new { cluster_name = "c", provider_type = "vault", items = Array.Empty<object>() })).ShouldBeJsonAsync();
        empty.GetProperty("count").GetInt32().ShouldBe(0);
        empty.GetProperty("upserted_ids").GetArrayLength().ShouldBe(0);

        await (await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new { provider_type = "vault", items = Array.Empty<object>() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new { cluster_name = "c", items = Array.Empty<object>() })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        var bad = await (await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new
        {
            cluster_name = "c",
            provider_type = "vault",
            items = new object[] { new { secret_ref = "ok" }, new { secret_ref = "" } },
        })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        bad.GetProperty("details").EnumerateObject().Select(property => property.Name).ShouldContain(name => name.StartsWith("items[1]", StringComparison.Ordinal));
        await (await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new
        {
            cluster_name = "c",
            provider_type = "vault",
            items = new object[] { new { secret_ref = "x", labels = new { n = 1 } } },
        })).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        (await Fixture.ScalarAsync<long>("SELECT count(*) FROM access.discovered_secrets")).ShouldBe(0, "nothing of a refused batch lands");
    }

    [Fact]
    public async Task The_secret_list_filters_like_seed_003_and_pages()
    {
        using var agent = await MintAgentAsync();
        await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new
        {
            cluster_name = "eu",
            provider_type = "vault",
            items = new object[]
            {
                new { secret_ref = "apps/db", labels = new { team = "pay", tier = "1" } },
                new { secret_ref = "apps/cache", labels = new { team = "pay", tier = "2" } },
                new { secret_ref = "apps_x/other", labels = new { team = "ops" } },
            },
        });
        await agent.Client.PostAsJsonAsync(agent.Path("secrets/bulk"), new { cluster_name = "us", provider_type = "aws-sm", items = new object[] { new { secret_ref = "apps/db" } } });
        await Fixture.ExecuteAsync("UPDATE access.discovered_secrets SET status = 'missing' WHERE cluster_name = 'us'");
        var (viewer, _) = await AsAsync(BaseRole.Viewer);

        var all = await (await viewer.GetAsync("/api/v1/secrets")).ShouldBeJsonAsync();
        all.PropertyNames().ShouldBe(["items", "secrets", "total", "limit", "offset", "page", "pageSize", "totalPages"]);
        all.GetProperty("total").GetInt64().ShouldBe(4);
        all.GetProperty("items")[0].PropertyNames().ShouldBe(
        [
            "id", "source", "name", "cluster_name", "provider_type", "secret_ref", "provider_config", "labels", "version", "checksum",
            "created_at_source", "updated_at_source", "status", "first_seen_at", "last_seen_at", "created_at", "updated_at",
        ]);
        all.GetProperty("items").EnumerateArray().Select(item => $"{item.GetProperty("cluster_name").GetString()}:{item.GetProperty("secret_ref").GetString()}")
            .ShouldBe(["eu:apps/cache", "eu:apps/db", "eu:apps_x/other", "us:apps/db"]);
        all.GetProperty("items")[0].GetProperty("source").GetString().ShouldBe("discovered");

        async Task<long> Count(string query) => (await (await viewer.GetAsync($"/api/v1/secrets?{query}")).ShouldBeJsonAsync()).GetProperty("total").GetInt64();
        (await Count("cluster_name=eu")).ShouldBe(3);
        (await Count("provider=aws-sm")).ShouldBe(1);
        (await Count("provider_type=vault")).ShouldBe(3);
        (await Count("ref_prefix=apps/")).ShouldBe(3);
        (await Count("ref_prefix=apps_")).ShouldBe(1, "LIKE wildcards in the prefix are literal");
        (await Count("status=missing")).ShouldBe(1);
        (await Count("label=team:pay")).ShouldBe(2);
        (await Count("label=team:pay&label=tier:2")).ShouldBe(1);
        (await Count("source=vault")).ShouldBe(0);
        var page = await (await viewer.GetAsync("/api/v1/secrets?limit=2&offset=2")).ShouldBeJsonAsync();
        page.GetProperty("items").GetArrayLength().ShouldBe(2);
        page.GetProperty("total").GetInt64().ShouldBe(4);

        foreach (var query in new[] { "status=gone", "limit=0", "limit=abc", "offset=-1", "label=nocolon", "source=both" })
        {
            await (await viewer.GetAsync($"/api/v1/secrets?{query}")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        }

        var id = all.GetProperty("items")[1].GetProperty("id").GetGuid();
        var one = await (await viewer.GetAsync($"/api/v1/secrets/{id}")).ShouldBeJsonAsync();
        one.GetProperty("labels").GetProperty("team").GetString().ShouldBe("pay");
        await (await viewer.GetAsync($"/api/v1/secrets/{Guid.NewGuid()}")).ShouldBeErrorAsync(HttpStatusCode.NotFound);
        await (await viewer.GetAsync("/api/v1/secrets/nope")).ShouldBeErrorAsync(HttpStatusCode.BadRequest);
        await (await Client.GetAsync("/api/v1/secrets")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
        await (await Client.GetAsync($"/api/v1/secrets/{id}")).ShouldBeErrorAsync(HttpStatusCode.Unauthorized);
    }
}
