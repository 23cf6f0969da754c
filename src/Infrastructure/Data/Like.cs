namespace Capstan.Infrastructure.Data;

/// <summary>User text inside an <c>ILIKE</c> pattern: <c>%</c>, <c>_</c> and <c>\</c> match themselves.</summary>
public static class Like
{
    public static string Escape(string value) =>
        value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("%", "\\%", StringComparison.Ordinal).Replace("_", "\\_", StringComparison.Ordinal);

    /// <summary><c>%value%</c>, escaped.</summary>
    public static string Contains(string value) => $"%{Escape(value)}%";
}
