using System.Text.Json;
using Capstan.Infrastructure.Security;
using Capstan.Infrastructure.Sso;

namespace Capstan.Features.Tests.Identity.Sso;

public sealed class SsoRoleMappingTests
{
    private const string Mapping = """{"viewer": ["everyone"], "editor": ["devs"], "admin": ["ops"], "user": ["interns"]}""";

    [Theory]
    [InlineData(new[] { "everyone", "devs", "ops" }, "viewer", BaseRole.Admin)]
    [InlineData(new[] { "everyone", "devs" }, "viewer", BaseRole.Operator)]
    [InlineData(new[] { "interns", "everyone" }, "viewer", BaseRole.Developer)]
    [InlineData(new[] { "everyone" }, "editor", BaseRole.Viewer)]
    [InlineData(new[] { "nobody" }, "editor", BaseRole.Operator)]
    [InlineData(new[] { "nobody" }, "admin", BaseRole.Operator)]
    [InlineData(new[] { "nobody" }, "owner", BaseRole.Viewer)]
    [InlineData(new[] { "DEVS" }, "viewer", BaseRole.Viewer)]
    public void Highest_mapped_role_wins_else_the_clamped_default(string[] groups, string defaultRole, BaseRole expected) =>
        SsoRoleMapping.Resolve(Mapping, groups, defaultRole).ShouldBe(expected);

    [Fact]
    public void Without_a_mapping_the_default_applies() =>
        SsoRoleMapping.Resolve(null, ["ops"], "developer").ShouldBe(BaseRole.Developer);

    [Theory]
    [InlineData("""{"admin": "ops"}""", """{"admin":["ops"]}""")]
    [InlineData("\"{\\\"Editor\\\": [\\\"a\\\", \\\"b\\\"]}\"", """{"Editor":["a","b"]}""")]
    [InlineData("{}", null)]
    [InlineData("\"\"", null)]
    [InlineData("null", null)]
    public void Normalises_objects_and_json_strings(string input, string? expected)
    {
        SsoRoleMapping.TryNormalise(JsonDocument.Parse(input).RootElement, out var json, out var error).ShouldBeTrue(error);
        json.ShouldBe(expected);
    }

    [Theory]
    [InlineData("""{"root": ["x"]}""", "roleMapping key 'root' is not a role")]
    [InlineData("""{"admin": {"x": 1}}""", "roleMapping.admin must be a list of group names")]
    [InlineData("42", "roleMapping must be an object")]
    [InlineData("\"{broken\"", "roleMapping must be valid JSON")]
    public void Refuses_what_is_not_a_mapping(string input, string message)
    {
        SsoRoleMapping.TryNormalise(JsonDocument.Parse(input).RootElement, out _, out var error).ShouldBeFalse();
        error.ShouldStartWith(message);
    }
}
