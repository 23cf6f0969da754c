using System.Globalization;
using System.Text.Json;

namespace Capstan.Features.Fleet.Security;

/// <summary>
/// The vulnerability feed's rules, in OSV format (https://ossf.github.io/osv-schema/): parsing a record, deciding
/// whether a package version is affected, and the severity the record states.
/// <list type="bullet">
/// <item>A version is affected when an <c>affected</c> entry names the package (ecosystem and name compared
/// case-insensitively) and lists the version in <c>versions</c> or lies in one of its SEMVER/ECOSYSTEM <c>ranges</c>.
/// A range's events, in version order, switch the state: <c>introduced</c> at or below the version turns it on,
/// <c>fixed</c> at or below turns it off, <c>last_affected</c> strictly below turns it off. GIT ranges are skipped (a
/// BOM names versions, not commits).</item>
/// <item>Versions compare piecewise (<see cref="CompareVersions"/>): a leading <c>v</c> and <c>+build</c> metadata are
/// ignored; runs of digits compare as numbers, letters as text; a release sorts after its pre-releases
/// (<c>1.0.0-rc.1 &lt; 1.0.0 &lt; 1.0.1</c>, <c>2.0rc1 &lt; 2.0</c>).</item>
/// <item>Severity: <c>database_specific.severity</c> (CRITICAL, HIGH, MODERATE/MEDIUM, LOW), else the CVSS score —
/// a number, or the base score computed from a CVSS 3.x vector (<see cref="Cvss3BaseScore"/>) — (≥ 9 CRITICAL, ≥ 7
/// HIGH, ≥ 4 MEDIUM, &gt; 0 LOW), else UNKNOWN. The CVE id is the record's id when it is one, else the
/// first <c>CVE-</c> alias, else the OSV id.</item>
/// </list>
/// </summary>
internal static class OsvFeed
{
    public static readonly string[] Severities = ["CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN"];

    public sealed record Advisory(
        string Id, string[] Aliases, string Summary, string Details, string Severity, double? CvssScore, string[] References, string AffectedJson,
        (string Ecosystem, string Name)[] Packages, DateTime? ModifiedAt, DateTime? WithdrawnAt)
    {
        public string CveId => Id.StartsWith("CVE-", StringComparison.OrdinalIgnoreCase)
            ? Id
            : Aliases.FirstOrDefault(alias => alias.StartsWith("CVE-", StringComparison.OrdinalIgnoreCase)) ?? Id;

        public string Title => string.IsNullOrWhiteSpace(Summary) ? Id : Summary;
    }

    /// <summary>Reads one OSV record; the error names what is wrong when it is not one.</summary>
    public static (Advisory? Advisory, string? Error) Parse(JsonElement record)
    {
        if (record.ValueKind != JsonValueKind.Object)
        {
            return (null, "an OSV record must be a JSON object");
        }

        if (!record.TryGetProperty("id", out var idElement) || idElement.ValueKind != JsonValueKind.String || string.IsNullOrWhiteSpace(idElement.GetString()))
        {
            return (null, "an OSV record needs a string id");
        }

        var id = idElement.GetString()!.Trim();
        if (id.Length > 200)
        {
            return (null, $"{id[..40]}…: id is longer than 200 characters");
        }

        if (!record.TryGetProperty("affected", out var affected) || affected.ValueKind != JsonValueKind.Array)
        {
            return (null, $"{id}: an OSV record needs an affected array");
        }

        var packages = new List<(string, string)>();
        foreach (var entry in affected.EnumerateArray())
        {
            if (entry.ValueKind == JsonValueKind.Object && entry.TryGetProperty("package", out var package) && package.ValueKind == JsonValueKind.Object
                && String(package, "ecosystem") is { Length: > 0 } ecosystem && String(package, "name") is { Length: > 0 } name)
            {
                packages.Add((NormaliseEcosystem(ecosystem), name.ToLowerInvariant()));
            }
        }

        var (severity, score) = SeverityOf(record);
        return (new Advisory(
            id,
            Strings(record, "aliases"),
            String(record, "summary") ?? string.Empty,
            String(record, "details") ?? string.Empty,
            severity,
            score,
            record.TryGetProperty("references", out var references) && references.ValueKind == JsonValueKind.Array
                ? [.. references.EnumerateArray().Select(reference => reference.ValueKind == JsonValueKind.Object ? String(reference, "url") : null).OfType<string>()]
                : [],
            affected.GetRawText(),
            [.. packages.Distinct()],
            Date(record, "modified"),
            Date(record, "withdrawn")), null);
    }

    /// <summary>Ecosystem names as stored and compared: the part before any <c>:</c> (OSV's <c>Debian:12</c>), lower case.</summary>
    public static string NormaliseEcosystem(string ecosystem) => ecosystem.Split(':', 2)[0].Trim().ToLowerInvariant();

    /// <summary>Whether <paramref name="version"/> of the package is affected per the record's <c>affected</c> array, and
    /// the lowest <c>fixed</c> version above it in the matching range (null when none is known).</summary>
    public static (bool Affected, string? FixVersion) Match(string affectedJson, string ecosystem, string name, string version)
    {
        using var document = JsonDocument.Parse(affectedJson);
        var wantedEcosystem = NormaliseEcosystem(ecosystem);
        foreach (var entry in document.RootElement.EnumerateArray())
        {
            if (entry.ValueKind != JsonValueKind.Object || !entry.TryGetProperty("package", out var package) || package.ValueKind != JsonValueKind.Object
                || !string.Equals(NormaliseEcosystem(String(package, "ecosystem") ?? string.Empty), wantedEcosystem, StringComparison.Ordinal)
                || !string.Equals(String(package, "name"), name, StringComparison.OrdinalIgnoreCase))
            {
                continue;
            }

            if (Strings(entry, "versions").Any(listed => CompareVersions(listed, version) == 0))
            {
                return (true, FixAbove(entry, version));
            }

            if (!entry.TryGetProperty("ranges", out var ranges) || ranges.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            foreach (var range in ranges.EnumerateArray())
            {
                if (range.ValueKind == JsonValueKind.Object && String(range, "type") is "SEMVER" or "ECOSYSTEM" && InRange(range, version))
                {
                    return (true, FixAbove(entry, version));
                }
            }
        }

        return (false, null);
    }

    private static bool InRange(JsonElement range, string version)
    {
        if (!range.TryGetProperty("events", out var events) || events.ValueKind != JsonValueKind.Array)
        {
            return false;
        }

        var ordered = events.EnumerateArray()
            .Where(item => item.ValueKind == JsonValueKind.Object)
            .SelectMany(item => item.EnumerateObject())
            .Where(property => property.Value.ValueKind == JsonValueKind.String && property.Name is "introduced" or "fixed" or "last_affected")
            .Select(property => (Kind: property.Name, Version: property.Value.GetString()!))
            .OrderBy(item => item.Version, Comparer<string>.Create(CompareEventVersions))
            .ToList();
        var affected = false;
        foreach (var (kind, at) in ordered)
        {
            var comparison = at == "0" ? -1 : CompareVersions(at, version);
            switch (kind)
            {
                case "introduced" when comparison <= 0:
                    affected = true;
                    break;
                case "fixed" when comparison <= 0:
                    affected = false;
                    break;
                case "last_affected" when comparison < 0:
                    affected = false;
                    break;
            }
        }

        return affected;
    }

    private static string? FixAbove(JsonElement entry, string version)
    {
        if (!entry.TryGetProperty("ranges", out var ranges) || ranges.ValueKind != JsonValueKind.Array)
        {
            return null;
        }

        return ranges.EnumerateArray()
            .Where(range => range.ValueKind == JsonValueKind.Object && String(range, "type") is "SEMVER" or "ECOSYSTEM"
                && range.TryGetProperty("events", out var events) && events.ValueKind == JsonValueKind.Array)
            .SelectMany(range => range.GetProperty("events").EnumerateArray())
            .Where(item => item.ValueKind == JsonValueKind.Object && item.TryGetProperty("fixed", out var fixedAt) && fixedAt.ValueKind == JsonValueKind.String)
            .Select(item => item.GetProperty("fixed").GetString()!)
            .Where(fixedAt => CompareVersions(fixedAt, version) > 0)
            .OrderBy(fixedAt => fixedAt, Comparer<string>.Create(CompareVersions))
            .FirstOrDefault();
    }

    private static int CompareEventVersions(string left, string right) =>
        left == "0" ? (right == "0" ? 0 : -1) : right == "0" ? 1 : CompareVersions(left, right);

    /// <summary>Piecewise version order (see the class summary).</summary>
    public static int CompareVersions(string left, string right)
    {
        var a = Tokens(left);
        var b = Tokens(right);
        for (var index = 0; index < Math.Max(a.Count, b.Count); index++)
        {
            if (index >= a.Count)
            {
                // right has more: more letters means a pre-release of left (left is newer), more numbers a later release.
                return b.Skip(index).All(token => token.IsNumber && token.Number == 0) ? 0 : b[index].IsNumber ? -1 : 1;
            }

            if (index >= b.Count)
            {
                return a.Skip(index).All(token => token.IsNumber && token.Number == 0) ? 0 : a[index].IsNumber ? 1 : -1;
            }

            var (x, y) = (a[index], b[index]);
            var order = (x.IsNumber, y.IsNumber) switch
            {
                (true, true) => x.Number.CompareTo(y.Number),
                (false, false) => string.Compare(x.Text, y.Text, StringComparison.OrdinalIgnoreCase),
                (true, false) => 1,
                _ => -1,
            };
            if (order != 0)
            {
                return Math.Sign(order);
            }
        }

        return 0;
    }

    private readonly record struct Token(bool IsNumber, decimal Number, string Text);

    private static List<Token> Tokens(string version)
    {
        var text = version.Trim();
        if (text.Length > 1 && text[0] is 'v' or 'V' && char.IsDigit(text[1]))
        {
            text = text[1..];
        }

        var plus = text.IndexOf('+', StringComparison.Ordinal);
        if (plus >= 0)
        {
            text = text[..plus];
        }

        var tokens = new List<Token>();
        var start = 0;
        for (var index = 0; index <= text.Length; index++)
        {
            var boundary = index == text.Length || !char.IsLetterOrDigit(text[index])
                || (index > start && char.IsDigit(text[index]) != char.IsDigit(text[index - 1]));
            if (!boundary)
            {
                continue;
            }

            if (index > start)
            {
                var part = text[start..index];
                tokens.Add(char.IsDigit(part[0]) && decimal.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var number)
                    ? new Token(true, number, part)
                    : new Token(false, 0, part));
            }

            start = index < text.Length && !char.IsLetterOrDigit(text[index]) ? index + 1 : index;
        }

        return tokens;
    }

    private static (string Severity, double? Score) SeverityOf(JsonElement record)
    {
        double? score = null;
        if (record.TryGetProperty("severity", out var severities) && severities.ValueKind == JsonValueKind.Array)
        {
            foreach (var item in severities.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("score", out var value))
                {
                    if (value.ValueKind == JsonValueKind.Number)
                    {
                        score = value.GetDouble();
                    }
                    else if (value.ValueKind == JsonValueKind.String && double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed))
                    {
                        score = parsed;
                    }
                    else if (value.ValueKind == JsonValueKind.String && Cvss3BaseScore(value.GetString()!) is { } computed)
                    {
                        score = computed;
                    }
                }
            }
        }

        if (record.TryGetProperty("database_specific", out var specific) && specific.ValueKind == JsonValueKind.Object)
        {
            if (score is null && specific.TryGetProperty("cvss_score", out var cvss) && cvss.ValueKind == JsonValueKind.Number)
            {
                score = cvss.GetDouble();
            }

            var stated = String(specific, "severity")?.Trim().ToUpperInvariant() switch
            {
                "CRITICAL" => "CRITICAL",
                "HIGH" => "HIGH",
                "MODERATE" or "MEDIUM" => "MEDIUM",
                "LOW" => "LOW",
                _ => null,
            };
            if (stated is not null)
            {
                return (stated, score);
            }
        }

        var fromScore = score switch
        {
            >= 9 => "CRITICAL",
            >= 7 => "HIGH",
            >= 4 => "MEDIUM",
            > 0 => "LOW",
            _ => "UNKNOWN",
        };
        return (fromScore, score);
    }

    /// <summary>The base score of a CVSS 3.0/3.1 vector (<c>CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H</c> → 9.8), per
    /// the FIRST specification's formulas and round-up; null when the vector is not a complete 3.x base vector.</summary>
    public static double? Cvss3BaseScore(string vector)
    {
        var parts = vector.Trim().Split('/');
        if (parts.Length < 9 || !parts[0].StartsWith("CVSS:3", StringComparison.Ordinal))
        {
            return null;
        }

        var metrics = parts.Skip(1).Select(part => part.Split(':', 2)).Where(pair => pair.Length == 2).GroupBy(pair => pair[0]).ToDictionary(group => group.Key, group => group.First()[1]);
        string? Metric(string name) => metrics.TryGetValue(name, out var value) ? value : null;
        var changed = Metric("S") switch { "U" => false, "C" => true, _ => (bool?)null };
        double? av = Metric("AV") switch { "N" => 0.85, "A" => 0.62, "L" => 0.55, "P" => 0.2, _ => null };
        double? ac = Metric("AC") switch { "L" => 0.77, "H" => 0.44, _ => null };
        double? pr = Metric("PR") switch { "N" => 0.85, "L" => changed == true ? 0.68 : 0.62, "H" => changed == true ? 0.5 : 0.27, _ => null };
        double? ui = Metric("UI") switch { "N" => 0.85, "R" => 0.62, _ => null };
        static double? Impact(string? value) => value switch { "H" => 0.56, "L" => 0.22, "N" => 0, _ => null };
        var (c, i, a) = (Impact(Metric("C")), Impact(Metric("I")), Impact(Metric("A")));
        if (changed is null || av is null || ac is null || pr is null || ui is null || c is null || i is null || a is null)
        {
            return null;
        }

        var iss = 1 - ((1 - c.Value) * (1 - i.Value) * (1 - a.Value));
        var impact = changed.Value ? (7.52 * (iss - 0.029)) - (3.25 * Math.Pow(iss - 0.02, 15)) : 6.42 * iss;
        var exploitability = 8.22 * av.Value * ac.Value * pr.Value * ui.Value;
        if (impact <= 0)
        {
            return 0;
        }

        return RoundUp(Math.Min(changed.Value ? 1.08 * (impact + exploitability) : impact + exploitability, 10));

        static double RoundUp(double value)
        {
            var whole = (long)Math.Round(value * 100000);
            return whole % 10000 == 0 ? whole / 100000.0 : (Math.Floor(whole / 10000.0) + 1) / 10.0;
        }
    }

    private static string? String(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static string[] Strings(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Array
            ? [.. value.EnumerateArray().Where(item => item.ValueKind == JsonValueKind.String).Select(item => item.GetString()!)]
            : [];

    private static DateTime? Date(JsonElement element, string name) =>
        String(element, name) is { } text && DateTime.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal, out var date)
            ? date
            : null;
}
