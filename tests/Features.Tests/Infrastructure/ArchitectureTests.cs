using System.Reflection;
using System.Text.RegularExpressions;
using Capstan.Infrastructure.Routing;
using Capstan.Tests.Support;
using FluentValidation;
using MediatR;

namespace Capstan.Features.Tests.Infrastructure;

/// <summary>The slice rules, checked by reflection over the Features assembly (and, where reflection cannot see a
/// call, over the slices' sources).</summary>
public sealed partial class ArchitectureTests
{
    private static readonly Type[] FeatureTypes = FeaturesAssembly.Assembly.GetTypes();

    private static IEnumerable<Type> RequestTypes => FeatureTypes.Where(type =>
        type is { IsAbstract: false, IsInterface: false } && type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequest<>)));

    [Fact]
    public void Every_request_has_exactly_one_handler()
    {
        var handled = FeatureTypes
            .SelectMany(type => type.GetInterfaces())
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IRequestHandler<,>))
            .GroupBy(i => i.GetGenericArguments()[0])
            .ToDictionary(group => group.Key, group => group.Count());

        RequestTypes.Where(request => handled.GetValueOrDefault(request) != 1).Select(request => request.FullName).ShouldBeEmpty();
    }

    [Fact]
    public void Every_request_with_inputs_has_a_validator()
    {
        var validated = FeatureTypes
            .SelectMany(type => type.GetInterfaces())
            .Where(i => i.IsGenericType && i.GetGenericTypeDefinition() == typeof(IValidator<>))
            .Select(i => i.GetGenericArguments()[0])
            .ToHashSet();

        RequestTypes
            .Where(request => request.GetProperties(BindingFlags.Public | BindingFlags.Instance).Any(p => p.DeclaringType == request))
            .Where(request => !validated.Contains(request))
            .Select(request => request.FullName)
            .ShouldBeEmpty();
    }

    [Fact]
    public void Route_modules_take_no_constructor_dependencies()
    {
        FeatureTypes
            .Where(type => typeof(ICarterModule).IsAssignableFrom(type) && !type.IsAbstract)
            .Where(type => type.GetConstructor(BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance, Type.EmptyTypes) is null)
            .Select(type => type.FullName)
            .ShouldBeEmpty();
    }

    [Fact]
    public void Slices_of_one_area_never_use_another_area()
    {
        var violations = new List<string>();
        foreach (var type in FeatureTypes.Where(type => AreaOf(type) is not null))
        {
            var area = AreaOf(type);
            foreach (var used in TypesUsedBy(type).Where(used => AreaOf(used) is { } other && other != area))
            {
                violations.Add($"{type.FullName} uses {used.FullName}");
            }
        }

        violations.Distinct().ShouldBeEmpty();
    }

    /// <summary>Slices never call each other: a routed slice's request is sent by its own route module (or its own
    /// command-line verb, <c>XVerb</c>). Transports such as the agent socket send route-less message handlers of
    /// their own, which share primitives (a report type, a writer) with the routed slice instead of calling it.</summary>
    [Fact]
    public void A_routed_slices_request_is_sent_only_by_that_slice()
    {
        var sources = Directory.EnumerateFiles(Path.Combine(RepositoryFiles.Root, "src", "Features"), "*.cs", SearchOption.AllDirectories)
            .Where(file => !file.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .ToDictionary(file => file, File.ReadAllText);
        var routed = sources.Where(source => source.Value.Contains(": ICarterModule", StringComparison.Ordinal))
            .Select(source => Path.GetFileNameWithoutExtension(source.Key))
            .ToHashSet();

        var violations = sources.SelectMany(source => SentRequest().Matches(source.Value)
                .Select(match => (Sender: Path.GetFileNameWithoutExtension(source.Key), Slice: match.Groups["slice"].Value, Kind: match.Groups["kind"].Value)))
            .Where(sent => routed.Contains(sent.Slice) && sent.Sender != sent.Slice && sent.Sender != sent.Slice + "Verb")
            .Select(sent => $"{sent.Sender} sends {sent.Slice}.{sent.Kind}")
            .Distinct()
            .ToList();

        routed.Count.ShouldBeGreaterThan(300);
        violations.ShouldBeEmpty();
    }

    [GeneratedRegex(@"new\s+(?<slice>[A-Z]\w*)\.(?<kind>Command|Query)\s*\(")]
    private static partial Regex SentRequest();

    private static string? AreaOf(Type type)
    {
        var parts = (type.Namespace ?? string.Empty).Split('.');
        return parts.Length >= 3 && parts[0] == "Capstan" && parts[1] == "Features" ? parts[2] : null;
    }

    private static IEnumerable<Type> TypesUsedBy(Type type)
    {
        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var direct = new List<Type?> { type.BaseType };
        direct.AddRange(type.GetInterfaces());
        direct.AddRange(type.GetFields(All).Select(field => field.FieldType));
        direct.AddRange(type.GetProperties(All).Select(property => property.PropertyType));
        foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            direct.AddRange(method.GetParameters().Select(parameter => parameter.ParameterType));
            if (method is MethodInfo info)
            {
                direct.Add(info.ReturnType);
            }
        }

        return direct.Where(used => used is not null).SelectMany(used => Unwrap(used!));
    }

    private static IEnumerable<Type> Unwrap(Type type)
    {
        if (type.HasElementType)
        {
            return Unwrap(type.GetElementType()!);
        }

        return type.IsGenericType ? type.GetGenericArguments().SelectMany(Unwrap).Append(type) : [type];
    }
}
