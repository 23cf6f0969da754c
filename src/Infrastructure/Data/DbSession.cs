using System.Data;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Capstan.Infrastructure.Data;

/// <summary>
/// The request's database connection: opened on first use, returned to the pool when the request scope ends. The
/// transaction behavior opens a transaction around commands; every call below runs inside it when one is open.
/// </summary>
public sealed class DbSession(IServiceProvider services) : IAsyncDisposable
{
    private NpgsqlConnection? _connection;
    private bool _preferReplica;

    public NpgsqlTransaction? Transaction { get; private set; }

    public bool HasTransaction => Transaction is not null;

    /// <summary>Routes this scope's reads to the read data source; only effective before the connection opens.</summary>
    public void PreferReplica() => _preferReplica = _connection is null;

    public async ValueTask<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken)
    {
        if (_connection is null)
        {
            // Resolved on first use, so requests that never touch the database (probes) never wait for it.
            var dataSources = services.GetRequiredService<DataSources>();
            var source = _preferReplica ? dataSources.Read : dataSources.Primary;
            _connection = await source.OpenConnectionAsync(cancellationToken);
        }

        return _connection;
    }

    public async Task BeginAsync(CancellationToken cancellationToken, IsolationLevel isolation = IsolationLevel.ReadCommitted)
    {
        if (Transaction is not null)
        {
            throw new InvalidOperationException("A transaction is already open in this scope.");
        }

        _preferReplica = false;
        var connection = await OpenAsync(cancellationToken);
        Transaction = await connection.BeginTransactionAsync(isolation, cancellationToken);
    }

    public async Task CommitAsync(CancellationToken cancellationToken)
    {
        if (Transaction is null)
        {
            return;
        }

        await Transaction.CommitAsync(cancellationToken);
        await Transaction.DisposeAsync();
        Transaction = null;
    }

    public async Task RollbackAsync()
    {
        if (Transaction is null)
        {
            return;
        }

        try
        {
            // Not cancellable on purpose: a rollback must finish even when the request was aborted.
            await Transaction.RollbackAsync(CancellationToken.None);
        }
        finally
        {
            await Transaction.DisposeAsync();
            Transaction = null;
        }
    }

    public async Task<List<T>> QueryAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        var rows = await connection.QueryAsync<T>(Command(sql, parameters, cancellationToken));
        return rows.AsList();
    }

    public async Task<T?> QuerySingleOrDefaultAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        return await connection.QuerySingleOrDefaultAsync<T>(Command(sql, parameters, cancellationToken));
    }

    public async Task<T> QuerySingleAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        return await connection.QuerySingleAsync<T>(Command(sql, parameters, cancellationToken));
    }

    public async Task<int> ExecuteAsync(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteAsync(Command(sql, parameters, cancellationToken));
    }

    public async Task<T?> ExecuteScalarAsync<T>(string sql, object? parameters, CancellationToken cancellationToken)
    {
        var connection = await OpenAsync(cancellationToken);
        return await connection.ExecuteScalarAsync<T>(Command(sql, parameters, cancellationToken));
    }

    public async ValueTask DisposeAsync()
    {
        await RollbackAsync();
        if (_connection is not null)
        {
            await _connection.DisposeAsync();
            _connection = null;
        }
    }

    private CommandDefinition Command(string sql, object? parameters, CancellationToken cancellationToken) =>
        new(sql, parameters, Transaction, cancellationToken: cancellationToken);
}
