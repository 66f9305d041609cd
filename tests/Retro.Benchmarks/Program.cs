using System.Reflection;
using BenchmarkDotNet.Running;
using Retro.Benchmarks;

var suites = typeof(ISuite).Assembly.GetTypes()
    .Where(t => typeof(ISuite).IsAssignableFrom(t) && t is { IsAbstract: false, IsInterface: false })
    .Select(t => (ISuite)Activator.CreateInstance(t)!)
    .OrderBy(s => s.Name, StringComparer.Ordinal)
    .ToList();

if (args.Length > 0 && suites.FirstOrDefault(s => s.Name == args[0]) is { } suite)
{
    return suite.Run(args[1..]);
}
if (args.Length > 0 && args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine("usage: dotnet run -c Release --project tests/Retro.Benchmarks -- <suite> [options]");
    foreach (var s in suites) Console.WriteLine($"  {s.Name,-10} {s.Description}");
    Console.WriteLine("  (anything else is passed to BenchmarkDotNet's switcher for the micro-benchmarks)");
    return 0;
}
BenchmarkSwitcher.FromAssembly(Assembly.GetExecutingAssembly()).Run(args);
return 0;
