using Capstan.Bench;

// bench/run drives this tool in three roles:
//   bare --port N                 the framework ceiling: bare Kestrel, no auth, no database
//   kube --objects N --out FILE   the fake Kubernetes API server from tests/Support with N Flux Kustomizations
//   run  --api URL ...            seeds, runs every scenario and ceiling, prints the table
var options = Options.Parse(args.Skip(1));
return args.FirstOrDefault() switch
{
    "bare" => await BareKestrel.RunAsync(options),
    "kube" => await KubeHost.RunAsync(options),
    "run" => await Runner.RunAsync(options),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("usage: bench (bare|kube|run) [--key value ...]; see bench/run");
    return 2;
}
