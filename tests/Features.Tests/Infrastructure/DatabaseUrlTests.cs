using Capstan.Infrastructure.Data;
using Npgsql;

namespace Capstan.Features.Tests.Infrastructure;

public sealed class DatabaseUrlTests
{
    [Fact]
    public void Converts_a_platform_database_url()
    {
        var builder = new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString("postgres://app%40x:p%3Ass@db.example:6543/capstan?sslmode=require"));

        builder.Host.ShouldBe("db.example");
        builder.Port.ShouldBe(6543);
        builder.Database.ShouldBe("capstan");
        builder.Username.ShouldBe("app@x");
        builder.Password.ShouldBe("p:ss");
        builder.SslMode.ShouldBe(SslMode.Require);
    }

    [Fact]
    public void Defaults_the_port()
    {
        new NpgsqlConnectionStringBuilder(DatabaseUrl.ToConnectionString("postgresql://u@localhost/db")).Port.ShouldBe(5432);
    }

    [Theory]
    [InlineData("mysql://u@h/db")]
    [InlineData("not a url")]
    [InlineData("postgres://u@h/db?sslmode=sometimes")]
    public void Refuses_what_is_not_a_postgres_url(string url)
    {
        Should.Throw<ArgumentException>(() => DatabaseUrl.ToConnectionString(url));
    }

    [Fact]
    public void Descriptions_for_logs_never_carry_the_password()
    {
        DatabaseConnection.Describe("Host=db;Port=5432;Database=capstan;Username=u;Password=hunter2").ShouldBe("db:5432/capstan");
    }
}
