using Capstan.Infrastructure.Data;
using Capstan.Infrastructure.Mediation;
using Capstan.Infrastructure.Security;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Fleet.Agents;

/// <summary>Resolves the <c>X-Instance-ID</c> an agent connects with: the instance's id, or the name of a live
/// instance (Draupnir identifies itself by name), among the instances the key's owner may see. Destroyed instances do
/// not count: their agent must register again. No route: the agent socket asks it.</summary>
public static class FindAgentInstance
{
    public sealed record Query(string Reference) : IQuery<Found?>;

    public sealed record Found(Guid Id, string Name);

    internal sealed class Validator : AbstractValidator<Query>
    {
        public Validator() => RuleFor(query => query.Reference).NotEmpty().MaximumLength(128).WithMessage("X-Instance-ID must name an instance");
    }

    internal sealed class Handler(DbSession db, RequestContext request) : IRequestHandler<Query, Found?>
    {
        private const string Select = $"""
            SELECT i.id, i.name FROM fleet.instances i
            WHERE (i.id = @Id OR (@Id::uuid IS NULL AND i.name = @Name))
              AND i.status <> 'DESTROYED'
              AND {FleetVisibility.Predicate}
            """;

        public async Task<Found?> Handle(Query query, CancellationToken cancellationToken)
        {
            var scope = FleetVisibility.Of(request.RequiredCaller);
            var reference = query.Reference.Trim();
            Guid? id = Guid.TryParse(reference, out var parsed) ? parsed : null;
            return await db.QuerySingleOrDefaultAsync<Found>(Select, new { Id = id, Name = reference, scope.SeesAllTeams, scope.TeamIds }, cancellationToken);
        }
    }
}
