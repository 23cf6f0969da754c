using System.Net;
using Capstan.Tests.Support;
using Npgsql;

namespace Capstan.Api.Tests.Pipeline;

/// <summary>Before start-up completes (or after it failed) probes say so and everything else is a 503.</summary>
public sealed class StartupGateTests
{
    [Fact]
    public async Task While_the_database_cannot_be_reached_the_service_is_initializing()
    {
        await using var factory = new ApiFactory("Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=1");
        using var client = factory.CreateClient();

        (await (await client.GetAsync("/api/v1/health")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("ok");
        (await (await client.GetAsync("/healthz")).ShouldBeJsonAsync()).GetProperty("status").GetString().ShouldBe("ok");

        var ready = await (await client.GetAsync("/api/v1/ready")).ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);
        ready.GetProperty("status").GetString().ShouldBe("initializing");
        ready.GetProperty("message").GetString().ShouldBe("Capstan initialization has not completed");

        var readyz = await (await client.GetAsync("/readyz")).ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);
        readyz.GetProperty("status").GetString().ShouldBe("not_ready");
        readyz.GetProperty("failures").GetProperty("startup").GetString().ShouldBe("initializing");

        var health = await (await client.GetAsync("/health")).ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);
        health.GetProperty("status").GetString().ShouldBe("degraded");
        health.GetProperty("checks").GetProperty("database").GetProperty("status").GetString().ShouldBe("error");

        var gated = await client.GetAsync("/api/v1/anything");
        var body = await gated.ShouldBeErrorAsync(HttpStatusCode.ServiceUnavailable);
        body.GetProperty("message").GetString().ShouldBe("Capstan initialization has not completed");
        gated.Headers.RetryAfter.ShouldNotBeNull();
    }

    [Fact]
    public async Task An_edited_migration_fails_start_up_and_ready_says_failed()
    {
        var connectionString = PostgresServer.CreateDatabase("edited");
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync();
            await using var tamper = new NpgsqlCommand("UPDATE public.schema_migrations SET checksum = 'edited' WHERE version = '0001'", connection);
            (await tamper.ExecuteNonQueryAsync()).ShouldBe(1);
        }

        await using var factory = new ApiFactory(connectionString, new Dictionary<string, string?> { ["Database:MigrateOnStartup"] = "true" });
        using var client = factory.CreateClient();

        var deadline = DateTime.UtcNow.AddSeconds(30);
        HttpResponseMessage response;
        do
        {
            await Task.Delay(50);
            response = await client.GetAsync("/api/v1/ready");
        }
        while ((await response.Content.ReadAsStringAsync()).Contains("initializing", StringComparison.Ordinal) && DateTime.UtcNow < deadline);

        var ready = await response.ShouldBeJsonAsync(HttpStatusCode.ServiceUnavailable);
        ready.GetProperty("status").GetString().ShouldBe("failed");
        ready.GetProperty("message").GetString().ShouldBe("Capstan initialization failed");
        factory.Logs.All.ShouldContain("0001_create_area_schemas.sql was changed after it was applied");
        (await client.GetAsync("/api/v1/anything")).StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
    }
}
