namespace Capstan.Tests.Support.Kubernetes;

/// <summary>
/// A stand-in for <c>kubectl</c> that only knows <c>kubectl kustomize &lt;dir&gt;</c>: it prints the files listed under
/// <c>resources:</c> in the directory's kustomization.yaml, joined with <c>---</c>, and fails like kustomize when there
/// is no kustomization.yaml. Written once per test run into a temporary directory.
/// </summary>
public static class KustomizeStandIn
{
    private static readonly Lazy<string> Script = new(Write);

    public static string Path => Script.Value;

    private static string Write()
    {
        var directory = Directory.CreateTempSubdirectory("capstan-kubectl-");
        var path = System.IO.Path.Combine(directory.FullName, "kubectl");
        File.WriteAllText(path, """
            #!/bin/sh
            # Stand-in for `kubectl kustomize <dir>` (tests only).
            if [ "$1" != "kustomize" ]; then echo "unsupported: $*" >&2; exit 2; fi
            dir="$2"
            if [ ! -f "$dir/kustomization.yaml" ]; then
              echo "Error: unable to find one of 'kustomization.yaml', 'kustomization.yml' or 'Kustomization' in directory '$dir'" >&2
              exit 1
            fi
            first=1
            for file in $(sed -n 's/^[[:space:]]*- //p' "$dir/kustomization.yaml"); do
              if [ $first -eq 0 ]; then echo "---"; fi
              first=0
              cat "$dir/$file"; printf '\n'
            done
            """.Replace("\r\n", "\n", StringComparison.Ordinal));
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        }

        return path;
    }
}
