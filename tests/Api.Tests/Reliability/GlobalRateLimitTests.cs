using System.Net;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit.Abstractions;

namespace Capstan.Api.Tests.Reliability;

/// <summary>The global per-address and per-user limits: 429 with <c>Retry-After</c> in the error shape past the limit,
/// probes never limited, addresses and users counted apart, and one window shared by two hosts on one database (two
/// replicas).</summary>
public sealed class GlobalRateLimitTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Per_address_limit_answers_429_with_retry_after_and_spares_probes_and_other_addresses()
    {
        await using var api = new ApiFactory(PostgresServer.CreateDatabase("ratelimit_ip"), new Dictionary<string, string?>
        {
            ["RateLimits:PerIp:Limit"] = "5",
            ["RateLimits:PerIp:WindowSeconds"] = "600",
            ["Api:TrustForwardedHeaders"] = "true",
        });
        await api.WaitUntilReadyAsync();
        var (client, _) = await api.ClientAsAsync(BaseRole.Viewer);
        client.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.1");

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 7; i++)
        {
            statuses.Add((await client.GetAsync("/api/v1/permissions")).StatusCode);
        }

        statuses.Take(5).ShouldAllBe(status => status == HttpStatusCode.OK);
        var refused = await client.GetAsync("/api/v1/permissions");
        var body = await refused.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests);
        var retryAfter = int.Parse(refused.Headers.GetValues("Retry-After").Single(), System.Globalization.CultureInfo.InvariantCulture);
        retryAfter.ShouldBeInRange(1, 600);
        body.GetProperty("message").GetString()!.ShouldContain("Too many requests");

        // Probes always answer; another address has its own window; anonymous callers count too.
        for (var i = 0; i < 10; i++)
        {
            (await client.GetAsync("/api/v1/health")).StatusCode.ShouldBe(HttpStatusCode.OK);
            (await client.GetAsync("/api/v1/ready")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        using var other = api.CreateClient(new WebApplicationFactoryClientOptions { HandleCookies = false });
        other.DefaultRequestHeaders.Add("X-Forwarded-For", "198.51.100.2");
        (await other.GetAsync("/api/v1/permissions")).StatusCode.ShouldBe(HttpStatusCode.Unauthorized);
        output.WriteLine($"per address: limit 5, answers {string.Join(' ', statuses.Select(status => (int)status))}, Retry-After {retryAfter}s; probes 20/20 answered while limited");
    }

    [Fact]
    public async Task Per_user_limit_counts_each_user_apart()
    {
        await using var api = new ApiFactory(PostgresServer.CreateDatabase("ratelimit_user"), new Dictionary<string, string?>
        {
            ["RateLimits:PerIp:Limit"] = "0",
            ["RateLimits:PerUser:Limit"] = "3",
            ["RateLimits:PerUser:WindowSeconds"] = "600",
        });
        await api.WaitUntilReadyAsync();
        var (first, _) = await api.ClientAsAsync(BaseRole.Viewer);
        var (second, _) = await api.ClientAsAsync(BaseRole.Viewer);

        for (var i = 0; i < 3; i++)
        {
            (await first.GetAsync("/api/v1/permissions")).StatusCode.ShouldBe(HttpStatusCode.OK);
        }

        var refused = await first.GetAsync("/api/v1/permissions");
        await refused.ShouldBeErrorAsync(HttpStatusCode.TooManyRequests);
        refused.Headers.Contains("Retry-After").ShouldBeTrue();
        (await second.GetAsync("/api/v1/permissions")).StatusCode.ShouldBe(HttpStatusCode.OK);
        output.WriteLine("per user: limit 3, the first user's fourth request 429, the second user unaffected");
    }

    [Fact]
    public async Task Two_replicas_share_one_window()
    {
        var database = PostgresServer.CreateDatabase("ratelimit_shared");
        var settings = new Dictionary<string, string?> { ["RateLimits:PerIp:Limit"] = "0", ["RateLimits:PerUser:Limit"] = "6", ["RateLimits:PerUser:WindowSeconds"] = "600" };
        await using var one = new ApiFactory(database, settings);
        await using var two = new ApiFactory(database, settings);
        await one.WaitUntilReadyAsync();
        await two.WaitUntilReadyAsync();
        var user = await one.CreateUserAsync(BaseRole.Viewer);
        var viaOne = await one.ClientAsAsync(user);
        var viaTwo = await two.ClientAsAsync(user);

        var answers = new List<int>();
        for (var i = 0; i < 4; i++)
        {
            answers.Add((int)(await viaOne.GetAsync("/api/v1/permissions")).StatusCode);
            answers.Add((int)(await viaTwo.GetAsync("/api/v1/permissions")).StatusCode);
        }

        answers.Count(status => status == 200).ShouldBe(6);
        answers.Skip(6).ShouldAllBe(status => status == 429);
        output.WriteLine($"two replicas, limit 6 per user, alternating: {string.Join(' ', answers)}");
    }
}
