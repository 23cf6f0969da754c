using Capstan.Infrastructure.Security;

namespace Capstan.Features.Fleet;

/// <summary>
/// Team scoping of instances (reference sindri.md §3.2): administrators see every instance; everyone else sees
/// instances without a team and those of the teams they belong to. Team membership is a custom-role assignment scoped
/// to <c>{"team_id": "…"}</c> (seed 003's scoped grants). Slices add <see cref="Predicate"/> to their SQL with the
/// parameters of <see cref="Of"/>; an instance the caller cannot see answers 404, like an unknown one.
/// </summary>
internal static class FleetVisibility
{
    /// <summary>The visibility test on an instance row aliased <c>i</c>; needs <c>@SeesAllTeams</c> and <c>@TeamIds</c>.</summary>
    public const string Predicate = "(@SeesAllTeams OR i.team_id IS NULL OR i.team_id = ANY(@TeamIds))";

    public static TeamScope Of(Caller caller) => new(caller.IsAdmin, [.. caller.TeamIds]);

    public sealed record TeamScope(bool SeesAllTeams, Guid[] TeamIds)
    {
        public bool CanSee(Guid? teamId) => SeesAllTeams || teamId is null || TeamIds.Contains(teamId.Value);
    }
}
