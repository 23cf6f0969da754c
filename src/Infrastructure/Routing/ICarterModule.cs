using Microsoft.AspNetCore.Routing;

namespace Capstan.Infrastructure.Routing;

/// <summary>
/// Carter's module contract with Carter's exact signature (Carter itself does not restore for net10 here): a slice's
/// <c>Endpoint</c> maps its one route in <see cref="AddRoutes"/>. Modules are singletons with no constructor
/// dependencies; per-request services arrive as route-delegate parameters.
/// </summary>
public interface ICarterModule
{
    void AddRoutes(IEndpointRouteBuilder app);
}
