using Capstan.Api.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddCapstanApi();
var app = builder.Build();

if (MigrateCommand.IsRequested(args))
{
    return await MigrateCommand.RunAsync(app);
}

if (VerbCommand.Find(app, args) is { } verb)
{
    return await VerbCommand.RunAsync(app, verb, args);
}

app.UseCapstanApi();
await app.RunAsync();
return 0;

/// <summary>Entry point; partial so the test host can reference it.</summary>
public partial class Program;
