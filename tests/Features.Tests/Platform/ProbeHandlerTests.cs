using Capstan.Features.Platform;
using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Health;
using Capstan.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Features.Tests.Platform;

public sealed class ProbeHandlerTests(FeaturesFixture fixture) : HandlerTest(fixture)
{
    [Fact]
    public async Task Health_and_healthz_are_ok()
    {
        (await Fixture.SendAsync(new GetHealth.Query())).Status.ShouldBe("ok");
        (await Fixture.SendAsync(new GetHealthz.Query())).Status.ShouldBe("ok");
    }

    [Fact]
    public async Task Ready_follows_the_startup_phase()
    {
        var readiness = new ServiceReadiness(TimeProvider.System);
        var handler = new GetReady.Handler(readiness, new DatabaseProbe(Fixture.Services));

        (await handler.Handle(new GetReady.Query(), default)).ShouldBe(new GetReady.Response("initializing", "Capstan initialization has not completed"));

        readiness.MarkFailed();
        (await handler.Handle(new GetReady.Query(), default)).Status.ShouldBe("failed");

        var ready = new ServiceReadiness(TimeProvider.System);
        ready.MarkReady();
        (await new GetReady.Handler(ready, new DatabaseProbe(Fixture.Services)).Handle(new GetReady.Query(), default)).Status.ShouldBe("ready");
    }

    [Fact]
    public async Task Ready_names_the_database_when_it_is_down()
    {
        await using var unreachable = UnreachableDatabase();
        var readiness = new ServiceReadiness(TimeProvider.System);
        readiness.MarkReady();

        var ready = await new GetReady.Handler(readiness, new DatabaseProbe(unreachable)).Handle(new GetReady.Query(), default);
        var readyz = await new GetReadyz.Handler(readiness, new DatabaseProbe(unreachable)).Handle(new GetReadyz.Query(), default);

        ready.Status.ShouldBe("not_ready");
        ready.Failures!["database"].ShouldBe("unreachable");
        readyz.Status.ShouldBe("not_ready");
        readyz.Failures.ShouldBe(new Dictionary<string, string> { ["postgres"] = "unreachable" });
    }

    [Fact]
    public async Task Service_health_degrades_without_the_database_and_counts_uptime()
    {
        await using var unreachable = UnreachableDatabase();
        var clock = new ManualClock(DateTimeOffset.Parse("2026-11-22T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var readiness = new ServiceReadiness(clock);
        readiness.MarkReady();
        clock.Advance(TimeSpan.FromSeconds(90));

        var down = await new GetServiceHealth.Handler(readiness, new DatabaseProbe(unreachable), clock).Handle(new GetServiceHealth.Query(), default);
        var up = await new GetServiceHealth.Handler(readiness, new DatabaseProbe(Fixture.Services), clock).Handle(new GetServiceHealth.Query(), default);

        down.Status.ShouldBe("degraded");
        down.Uptime.ShouldBe(90);
        down.Checks["database"].ShouldBe(new GetServiceHealth.Check("error", Error: "Database unreachable"));
        up.Status.ShouldBe("ok");
        up.Checks["database"].LatencyMs.ShouldNotBeNull();
    }

    [Fact]
    public async Task Metrics_scrape_is_prometheus_text()
    {
        await Fixture.SendAsync(new GetHealth.Query());

        var text = await Fixture.SendAsync(new GetMetrics.Query());

        text.ShouldContain("# TYPE capstan_handler_duration_seconds histogram");
        text.ShouldContain("request=\"GetHealth.Query\"");
    }

    private static ServiceProvider UnreachableDatabase()
    {
        var dataSource = NpgsqlDataSource.Create("Host=127.0.0.1;Port=1;Username=x;Password=y;Timeout=1");
        return new ServiceCollection().AddSingleton(new DataSources(dataSource, dataSource)).BuildServiceProvider();
    }
}
