using Npgsql;

namespace Capstan.Infrastructure.Data;

/// <summary>The pooled data sources: <see cref="Primary"/> for commands, <see cref="Read"/> for queries (a replica when
/// <c>ConnectionStrings:ReadOnly</c> is configured, otherwise the primary itself).</summary>
public sealed class DataSources(NpgsqlDataSource primary, NpgsqlDataSource read) : IAsyncDisposable
{
    public NpgsqlDataSource Primary { get; } = primary;

    public NpgsqlDataSource Read { get; } = read;

    public async ValueTask DisposeAsync()
    {
        if (!ReferenceEquals(Read, Primary))
        {
            await Read.DisposeAsync();
        }

        await Primary.DisposeAsync();
    }
}
