using Capstan.Infrastructure.Data;
using MediatR;
using Microsoft.Extensions.DependencyInjection;

namespace Capstan.Infrastructure.Mediation;

/// <summary>Commands run in one transaction, committed when the handler returns and rolled back when it throws.
/// Queries run without one, on the read data source. A command sent inside another's transaction joins it.</summary>
public sealed class TransactionBehavior<TRequest, TResponse>(DbSession session, IServiceProvider services)
    : IPipelineBehavior<TRequest, TResponse>
{
    public async Task<TResponse> Handle(TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        if (request is IQueryRequest)
        {
            session.PreferReplica();
            return await next();
        }

        if (request is not ICommandRequest || session.HasTransaction)
        {
            return await next();
        }

        await session.BeginAsync(cancellationToken);
        try
        {
            var response = await next();
            // Resolved here, not in the constructor: queries never commit, so they never build the audit trail.
            foreach (var participant in services.GetServices<ITransactionParticipant>())
            {
                await participant.BeforeCommitAsync(request!, session, cancellationToken);
            }

            await session.CommitAsync(cancellationToken);
            return response;
        }
        catch
        {
            await session.RollbackAsync();
            throw;
        }
    }
}

/// <summary>Work that must land in the command's own transaction just before it commits (the audit trail).</summary>
public interface ITransactionParticipant
{
    Task BeforeCommitAsync(object request, DbSession session, CancellationToken cancellationToken);
}
