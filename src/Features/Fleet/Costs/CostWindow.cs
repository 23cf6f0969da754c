using Capstan.Infrastructure.Errors;
using Capstan.Infrastructure.Security;

namespace Capstan.Features.Fleet.Costs;

/// <summary>The date range and filters the cost reports share (reference sindri.md §8.9): <c>from</c>/<c>to</c>
/// (ISO-8601; default the 30 days up to now, at most 366 days), <c>instanceId</c>, <c>provider</c>. An entry belongs to
/// the range when its day starts in it. Only instances the caller may see count.</summary>
internal sealed record CostWindow(DateTime From, DateTime To, Guid? InstanceId, string? Provider)
{
    /// <summary>Cost entries aliased <c>e</c> joined to their instance <c>i</c>, filtered; needs <see cref="Parameters"/>.</summary>
    public const string Entries = $"""
        fleet.cost_entries e JOIN fleet.instances i ON i.id = e.instance_id
        WHERE e.period_start >= @From AND e.period_start < @To
          AND (@InstanceId::uuid IS NULL OR e.instance_id = @InstanceId)
          AND (@Provider::text IS NULL OR e.provider = @Provider)
          AND {FleetVisibility.Predicate}
        """;

    public static CostWindow Of(DateTime? from, DateTime? to, Guid? instanceId, string? provider, DateTime now)
    {
        var end = (to ?? now).ToUniversalTime();
        var start = (from ?? end.AddDays(-30)).ToUniversalTime();
        if (start >= end)
        {
            throw BadRequestException.ForField("from", "from must be before to");
        }

        if (end - start > TimeSpan.FromDays(366))
        {
            throw BadRequestException.ForField("from", "the range may span at most 366 days");
        }

        if (provider is not null && !FleetVocabulary.IsOneOf(provider, FleetVocabulary.Providers))
        {
            throw BadRequestException.ForField("provider", $"provider must be one of: {string.Join(", ", FleetVocabulary.Providers)}");
        }

        return new CostWindow(start, end, instanceId, provider?.Trim().ToLowerInvariant());
    }

    public object Parameters(Caller caller)
    {
        var scope = FleetVisibility.Of(caller);
        return new { From, To, InstanceId, Provider, scope.SeesAllTeams, scope.TeamIds };
    }
}

/// <summary>Sums of cost components, as the reports select them (<c>total_usd, compute_usd, storage_usd, network_usd,
/// llm_usd</c>).</summary>
internal sealed record CostSums
{
    public const string Columns = """
        COALESCE(sum(e.total_usd), 0) AS total_usd, COALESCE(sum(e.compute_usd), 0) AS compute_usd, COALESCE(sum(e.storage_usd), 0) AS storage_usd,
        COALESCE(sum(e.network_usd), 0) AS network_usd, COALESCE(sum(e.llm_usd), 0) AS llm_usd
        """;

    public decimal TotalUsd { get; init; }

    public decimal ComputeUsd { get; init; }

    public decimal StorageUsd { get; init; }

    public decimal NetworkUsd { get; init; }

    public decimal LlmUsd { get; init; }
}
