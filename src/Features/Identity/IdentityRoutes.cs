namespace Capstan.Features.Identity;

/// <summary>OpenAPI tags of the identity area.</summary>
internal static class IdentityRoutes
{
    public const string Auth = "Auth";
    public const string Users = "Users";
    public const string Roles = "Roles";
    public const string Admin = "Admin";
    public const string Audit = "Audit";
}
