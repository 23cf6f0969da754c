using System.Diagnostics;
using System.Diagnostics.Metrics;
using MediatR;
using Microsoft.Extensions.Logging;

namespace Capstan.Infrastructure.Mediation;

/// <summary>Outermost behavior: times every handler into <c>capstan.handler.duration</c> (by request type and outcome)
/// and logs handlers slower than a second.</summary>
public sealed class TelemetryBehavior<TRequest, TResponse>(HandlerMetrics metrics, ILogger<TelemetryBehavior<TRequest, TResponse>> logger)
    : IPipelineBehavior<TRequest, TResponse>
{
    private static readonly string RequestName = NameOf(typeof(TRequest));

    public async Task<TResponse> Handle(TRequest request, CancellationToken cancellationToken, RequestHandlerDelegate<TResponse> next)
    {
        var started = Stopwatch.GetTimestamp();
        var outcome = "error";
        try
        {
            var response = await next();
            outcome = "ok";
            return response;
        }
        finally
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            metrics.Record(RequestName, outcome, elapsed);
            if (elapsed > TimeSpan.FromSeconds(1))
            {
                logger.LogWarning("Slow handler {Request} took {ElapsedMs} ms ({Outcome})", RequestName, (long)elapsed.TotalMilliseconds, outcome);
            }
        }
    }

    // Slices nest their request as <Slice>.Command or <Slice>.Query: name it by the slice.
    private static string NameOf(Type type) =>
        type.DeclaringType is { } slice ? $"{slice.Name}.{type.Name}" : type.Name;
}

public sealed class HandlerMetrics
{
    public const string MeterName = "Capstan.Handlers";

    private readonly Histogram<double> _duration;

    public HandlerMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(MeterName);
        _duration = meter.CreateHistogram<double>(
            "capstan.handler.duration",
            unit: "s",
            description: "Time spent in MediatR handlers, including validation and the transaction.");
    }

    public void Record(string request, string outcome, TimeSpan elapsed) =>
        _duration.Record(elapsed.TotalSeconds, new KeyValuePair<string, object?>("request", request), new KeyValuePair<string, object?>("outcome", outcome));
}
