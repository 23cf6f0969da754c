using Capstan.Infrastructure.Health;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Capstan.Tests.Support;

/// <summary>The whole service in-process against a test database; migrations are already in the template, so the
/// host only checks the database before reporting ready.</summary>
public class ApiFactory(
    string connectionString,
    IReadOnlyDictionary<string, string?>? settings = null,
    Action<IServiceCollection>? configureServices = null) : WebApplicationFactory<Program>
{
    /// <summary>A fixed master key, so tests never write .data/master.key.</summary>
    public const string TestMasterKey = "dGVzdC1tYXN0ZXIta2V5LWZvci1jYXBzdGFuLXRlc3Q=";

    public CapturedLogs Logs { get; } = new();

    public string ConnectionString { get; } = connectionString;

    /// <summary>Where this host writes backups (a temporary directory of its own).</summary>
    public string BackupDirectory { get; } = Path.Combine(Path.GetTempPath(), "capstan-backups-" + Guid.NewGuid().ToString("N")[..12]);

    public async Task WaitUntilReadyAsync(TimeSpan? timeout = null)
    {
        var readiness = Services.GetRequiredService<ServiceReadiness>();
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!readiness.IsReady)
        {
            if (readiness.Phase == StartupPhase.Failed)
            {
                throw new InvalidOperationException("The test host failed to initialise:\n" + Logs.All);
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The test host did not become ready:\n" + Logs.All);
            }

            await Task.Delay(20);
        }

        // Tests start from a service that has caught up too (all fleet partitions of the retention exist).
        await readiness.CaughtUp.WaitAsync(deadline - DateTime.UtcNow > TimeSpan.Zero ? deadline - DateTime.UtcNow : TimeSpan.Zero);
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("ConnectionStrings:Default", ConnectionString);
        builder.UseSetting("Database:MigrateOnStartup", "false");
        builder.UseSetting("Urls", "http://127.0.0.1:0");
        builder.UseSetting("Crypto:MasterKey", TestMasterKey);
        builder.UseSetting("Backups:Directory", BackupDirectory);
        // Tests sign in far more often than a person; the limit itself is tested on a host of its own.
        builder.UseSetting("Identity:LoginRateLimit:PermitPerMinute", "100000");
        builder.UseSetting("Identity:ChangePasswordRateLimit:PermitPer15Minutes", "100000");
        builder.UseSetting("Identity:TicketRateLimit:PermitPerMinute", "100000");
        // The global limits stay on (every request is counted) but far above what a test sends; they are tested with
        // low limits on hosts of their own.
        builder.UseSetting("RateLimits:PerIp:Limit", "10000000");
        builder.UseSetting("RateLimits:PerUser:Limit", "10000000");
        // Tests create their own users and run background jobs by hand.
        builder.UseSetting("Identity:BootstrapAdmin", "false");
        builder.UseSetting("Jobs:Enabled", "false");
        // Many tests change users, keys and grants with SQL and assert the very next request; the credential cache
        // (which would let that request through for up to its lifetime) is tested on hosts of its own.
        builder.UseSetting("Identity:CredentialCacheMilliseconds", "0");
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            builder.UseSetting(key, value);
        }

        if (configureServices is not null)
        {
            builder.ConfigureServices(configureServices);
        }

        builder.ConfigureLogging(logging =>
        {
            logging.ClearProviders();
            logging.AddProvider(Logs);
            logging.SetMinimumLevel(LogLevel.Debug);
            logging.AddFilter("Microsoft", LogLevel.Warning);
            logging.AddFilter("Npgsql", LogLevel.Warning);
        });
    }
}
