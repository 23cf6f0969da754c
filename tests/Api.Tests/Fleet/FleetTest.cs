using System.Net;
using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Tests.Support;

namespace Capstan.Api.Tests.Fleet;

/// <summary>The fleet area's own service and database, so its tests run beside the other areas'. Timings that are
/// long in production (SSE heartbeats, command grace, notification retry delays) are short here.</summary>
public sealed class FleetFixture : ApiFixture
{
    /// <summary>The SMTP server e-mail channels deliver to (started with the fixture).</summary>
    public SmtpStandIn Smtp { get; } = SmtpStandIn.Start();

    /// <summary>A stand-in <c>sindri</c> CLI: <c>deploy --config FILE</c> fails with exit 3 when the file mentions
    /// <c>fail-me</c>, else prints what it deployed and whether it got the API_TOKEN secret; <c>profile list --json</c>
    /// and <c>profile info fullstack --json</c> answer two profiles.</summary>
    public string FakeSindri { get; } = WriteFakeSindri();

    public static readonly IReadOnlyDictionary<string, string?> Settings = new Dictionary<string, string?>
    {
        ["Fleet:Sse:HeartbeatSeconds"] = "0.5",
        ["Fleet:Commands:GraceMs"] = "300",
        ["Fleet:Notifications:RetryDelayMs"] = "20",
        ["Fleet:Notifications:TimeoutSeconds"] = "2",
        ["Fleet:RegisterRateLimit:PermitPerMinute"] = "100000",
        ["Fleet:Retention:LogDays"] = "3",
        ["Fleet:Retention:MetricDays"] = "8",
        ["Fleet:Retention:HeartbeatDays"] = "3",
    };

    protected override string Purpose => "fleet";

    protected override ApiFactory CreateFactory(string connectionString) =>
        new(connectionString, new Dictionary<string, string?>(Settings)
        {
            ["Fleet:Smtp:Host"] = "127.0.0.1",
            ["Fleet:Smtp:Port"] = Smtp.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Fleet:Smtp:From"] = "alerts@capstan.test",
            ["Sindri:CliPath"] = FakeSindri,
        });

    private static string WriteFakeSindri()
    {
        var directory = Directory.CreateTempSubdirectory("capstan-fake-sindri-");
        var path = Path.Combine(directory.FullName, "sindri");
        File.WriteAllText(path, """
            #!/bin/sh
            if [ "$1" = "deploy" ] && [ "$2" = "--config" ]; then
                if grep -q "fail-me" "$3"; then
                    echo "validating configuration"
                    echo "error: provider quota exceeded" >&2
                    exit 3
                fi
                echo "deployed $(grep '^name:' "$3")"
                if [ -n "$API_TOKEN" ]; then echo "api token received"; fi
                echo "deployment $SINDRI_DEPLOYMENT_ID"
                exit 0
            fi
            if [ "$1" = "profile" ] && [ "$2" = "list" ]; then
                echo '[{"name":"minimal","description":"Just the basics","extensions":["git","nodejs"]},{"name":"fullstack","description":"Web development"}]'
                exit 0
            fi
            if [ "$1" = "profile" ] && [ "$2" = "info" ] && [ "$3" = "fullstack" ]; then
                echo '{"name":"fullstack","description":"Web development","extensions":[{"name":"nodejs"},{"name":"python"},{"name":"docker"}]}'
                exit 0
            fi
            echo "unknown command" >&2
            exit 64
            """);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return path;
    }
}

[CollectionDefinition(Name)]
public sealed class FleetCollection : ICollectionFixture<FleetFixture>
{
    public const string Name = "fleet";
}

[Collection(FleetCollection.Name)]
public abstract class FleetTest(FleetFixture fixture) : ApiTest<FleetFixture>(fixture)
{
    /// <summary>Resets the database; a write that an agent socket of the previous test was still finishing may
    /// deadlock with the reset's TRUNCATE, so a deadlock is retried.</summary>
    public override async Task InitializeAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await Fixture.ResetAsync();
                return;
            }
            catch (Npgsql.PostgresException exception) when (exception.SqlState == Npgsql.PostgresErrorCodes.DeadlockDetected && attempt < 5)
            {
                await Task.Delay(100);
            }
        }
    }

    protected async Task<HttpClient> As(BaseRole role) => (await Fixture.ClientAsAsync(role)).Client;

    /// <summary>Registers an instance through the API and returns its id.</summary>
    protected async Task<Guid> RegisterAsync(HttpClient client, string name, string provider = "fly", string? region = "sea", object? extra = null)
    {
        var body = new Dictionary<string, object?> { ["name"] = name, ["provider"] = provider, ["region"] = region };
        if (extra is not null)
        {
            foreach (var property in JsonSerializer.SerializeToElement(extra).EnumerateObject())
            {
                body[property.Name] = property.Value;
            }
        }

        var response = await client.PostJsonAsync("/api/v1/instances", body);
        return (await response.ShouldBeJsonAsync(HttpStatusCode.Created)).GetProperty("id").GetGuid();
    }

    /// <summary>Writes an instance straight to the database (status and team as given).</summary>
    protected async Task<Guid> SeedInstanceAsync(string name, string status = "RUNNING", string provider = "fly", string? region = "sea", Guid? teamId = null)
    {
        var id = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            "INSERT INTO fleet.instances (id, name, provider, region, status, team_id) VALUES (@Id, @Name, @Provider, @Region, @Status, @TeamId)",
            new { Id = id, Name = name, Provider = provider, Region = region, Status = status, TeamId = teamId });
        return id;
    }

    /// <summary>Makes <paramref name="user"/> a member of <paramref name="teamId"/> (a custom role scoped to the team).</summary>
    protected async Task JoinTeamAsync(TestUser user, Guid teamId)
    {
        var roleId = Guid.CreateVersion7();
        await Fixture.ExecuteAsync(
            """
            INSERT INTO identity.roles (id, name, permissions) VALUES (@RoleId, @Name, ARRAY['fleet.read']);
            INSERT INTO identity.user_roles (id, user_id, role_id, scope) VALUES (@Id, @UserId, @RoleId, CAST(@Scope AS jsonb));
            """,
            new { RoleId = roleId, Name = $"team-{roleId}", Id = Guid.CreateVersion7(), UserId = user.Id, Scope = JsonSerializer.Serialize(new { team_id = teamId.ToString() }) });
    }
}
