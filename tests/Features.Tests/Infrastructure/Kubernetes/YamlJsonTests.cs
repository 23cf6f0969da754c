using System.Text.Json.Nodes;
using Capstan.Infrastructure.Kubernetes;

namespace Capstan.Features.Tests.Infrastructure.Kubernetes;

public sealed class YamlJsonTests
{
    [Fact]
    public void Plain_scalars_are_typed_and_quoted_ones_stay_strings()
    {
        var obj = YamlJson.ParseObject("""
            replicas: 3
            ratio: 1.5
            enabled: true
            off: false
            nothing: null
            tilde: ~
            quotedTrue: "true"
            quotedNumber: '42'
            version: 6.7.1
            interval: 1m0s
            hex: 0x1F
            """);

        obj["replicas"]!.GetValue<long>().ShouldBe(3);
        obj["ratio"]!.GetValue<decimal>().ShouldBe(1.5m);
        obj["enabled"]!.GetValue<bool>().ShouldBeTrue();
        obj["off"]!.GetValue<bool>().ShouldBeFalse();
        obj.ContainsKey("nothing").ShouldBeTrue();
        obj["nothing"].ShouldBeNull();
        obj["tilde"].ShouldBeNull();
        obj["quotedTrue"]!.GetValue<string>().ShouldBe("true");
        obj["quotedNumber"]!.GetValue<string>().ShouldBe("42");
        obj["version"]!.GetValue<string>().ShouldBe("6.7.1");
        obj["interval"]!.GetValue<string>().ShouldBe("1m0s");
        obj["hex"]!.GetValue<long>().ShouldBe(31);
    }

    [Fact]
    public void Several_documents_are_read_and_empty_ones_skipped()
    {
        var documents = YamlJson.ParseAll("---\na: 1\n---\n---\nb: [x, y]\n");

        documents.Count.ShouldBe(2);
        documents[1]!["b"]!.AsArray().Select(item => item!.GetValue<string>()).ShouldBe(["x", "y"]);
    }

    [Fact]
    public void Json_is_yaml()
    {
        var obj = YamlJson.ParseObject("""{"apiVersion":"v1","kind":"ConfigMap","data":{"a":"1"}}""");

        obj["data"]!["a"]!.GetValue<string>().ShouldBe("1");
    }

    [Fact]
    public void Serialized_yaml_reads_back_to_the_same_json()
    {
        var original = JsonNode.Parse("""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","annotations":{"a.b/c":"true","n":"0012","empty":""}},
             "data":{"script":"line one\nline two\n","colon":"a: b","hash":"x #y","list":[1,"2",null,true]}}
            """);

        var yaml = YamlJson.Serialize(original);

        JsonNode.DeepEquals(YamlJson.Parse(yaml), original).ShouldBeTrue(yaml);
        yaml.ShouldContain("kind: ConfigMap");
    }

    [Fact]
    public void Alias_bombs_are_refused()
    {
        var bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n";
        for (var level = 'b'; level <= 'j'; level++)
        {
            var previous = (char)(level - 1);
            bomb += $"{level}: &{level} [*{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}, *{previous}]\n";
        }

        Should.Throw<FormatException>(() => YamlJson.ParseObject(bomb)).Message.ShouldContain("too large");
    }

    [Fact]
    public void Invalid_yaml_names_the_line()
    {
        Should.Throw<FormatException>(() => YamlJson.ParseObject("a: b\n  c: d\n")).Message.ShouldContain("line 2");
        Should.Throw<FormatException>(() => YamlJson.ParseObject("a: [1, 2\nb: c")).Message.ShouldStartWith("Invalid YAML");
    }
}
