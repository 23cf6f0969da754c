using MediatR;

namespace Capstan.Infrastructure.Mediation;

/// <summary>Marks a request that changes state: it runs in one transaction (and writes its audit row there).</summary>
public interface ICommandRequest;

/// <summary>Marks a request that only reads: it may run on the read replica, without a transaction.</summary>
public interface IQueryRequest;

public interface ICommand<out TResponse> : IRequest<TResponse>, ICommandRequest;

public interface IQuery<out TResponse> : IRequest<TResponse>, IQueryRequest;
