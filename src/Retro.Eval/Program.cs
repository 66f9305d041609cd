using Retro.Eval.Running;

namespace Retro.Eval;

/// <summary>Entry point: <c>compare</c> and <c>diff</c> (see README.md).</summary>
internal static class Program
{
    private const string Usage = """
        usage:
          Retro.Eval compare --config FILE [--out DIR] [--modes closed-book,retrieval,rerank] [--k 1,2,4,8,16]
                             [--candidates 16,32] [--limit N] [--threads N] [--no-cache]
          Retro.Eval diff BEFORE/results.json AFTER/results.json [--out FILE]
          Retro.Eval qa-data --config FILE --out FILE.jsonl [--candidates N]
                             (QA training lines with the product's neighbours; N first-stage candidates for the cross-encoder)
        """;

    public static async Task<int> Main(string[] args)
    {
        using var cts = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) => { e.Cancel = true; cts.Cancel(); };
        try
        {
            return await RunAsync(args, Console.Out, Console.Error, cts.Token);
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("interrupted; finished parts are cached, rerun to continue");
            return 130;
        }
    }

    /// <summary>Runs a command line; returns the exit code (0 ok, 1 failure, 2 usage).</summary>
    internal static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter log, CancellationToken ct)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help") { output.WriteLine(Usage); return args.Length == 0 ? 2 : 0; }
        try
        {
            switch (args[0])
            {
                case "compare":
                    {
                        var (config, useCache) = ParseCompare(args[1..]);
                        await new CompareRunner(config, log, useCache).RunAsync(ct);
                        return 0;
                    }
                case "diff":
                    {
                        var positional = args[1..].Where((a, i) => !a.StartsWith("--", StringComparison.Ordinal) && (i == 0 || args[i] != "--out")).ToList();
                        if (positional.Count != 2) throw new ArgumentException("diff takes two results.json files");
                        string md = Reporting.ResultsDiff.Compare(RunResults.Load(Results(positional[0])), RunResults.Load(Results(positional[1])));
                        int outAt = Array.IndexOf(args, "--out");
                        if (outAt > 0 && outAt + 1 < args.Length) File.WriteAllText(args[outAt + 1], md);
                        else output.Write(md);
                        return 0;
                    }
                case "qa-data":
                    {
                        var rest = args[1..].ToList();
                        string? Take(string flag)
                        {
                            int at = rest.IndexOf(flag);
                            if (at < 0) return null;
                            if (at + 1 >= rest.Count) throw new ArgumentException($"{flag} needs a value");
                            string value = rest[at + 1];
                            rest.RemoveRange(at, 2);
                            return value;
                        }
                        string outFile = Path.GetFullPath(Take("--out") ?? throw new ArgumentException("qa-data needs --out FILE.jsonl"));
                        int pool = int.Parse(Take("--candidates") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
                        if (pool is < 0 or > 1000) throw new ArgumentException("--candidates must be in 0..1000");
                        var (config, _) = ParseCompare([.. rest]);
                        int n = await new QaDataExporter(config, log, pool).RunAsync(outFile, ct);
                        output.WriteLine($"wrote {n} questions to {outFile}");
                        return 0;
                    }
                default:
                    log.WriteLine($"unknown command '{args[0]}'");
                    output.WriteLine(Usage);
                    return 2;
            }
        }
        catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException or FormatException)
        {
            log.WriteLine($"error: {e.Message}");
            return e is ArgumentException or FormatException ? 2 : 1;
        }
    }

    private static string Results(string path) => Directory.Exists(path) ? Path.Combine(path, RunResults.FileName) : path;

    /// <summary>Parses <c>compare</c>'s flags; flags override the config file.</summary>
    internal static (EvalConfig Config, bool UseCache) ParseCompare(string[] args)
    {
        string? configPath = null;
        var flags = new Dictionary<string, string>(StringComparer.Ordinal);
        bool useCache = true;
        for (int i = 0; i < args.Length; i++)
        {
            string a = args[i];
            if (a == "--no-cache") { useCache = false; continue; }
            if (!a.StartsWith("--", StringComparison.Ordinal) || i + 1 >= args.Length) throw new ArgumentException($"unexpected argument '{a}'");
            flags[a[2..]] = args[++i];
        }
        if (flags.Remove("config", out var c)) configPath = c;
        if (configPath is null) throw new ArgumentException("--config FILE is required");
        var config = EvalConfig.Load(configPath);
        foreach (var (name, value) in flags)
        {
            config = name switch
            {
                "out" => config with { Output = Path.GetFullPath(value) },
                "modes" => config with { Modes = [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)] },
                "k" => config with { K = Ints(value) },
                "candidates" => config with { Candidates = Ints(value) },
                "threads" => config with { Threads = int.Parse(value, System.Globalization.CultureInfo.InvariantCulture) },
                "limit" => WithLimit(config, int.Parse(value, System.Globalization.CultureInfo.InvariantCulture)),
                _ => throw new ArgumentException($"unknown flag '--{name}'"),
            };
        }
        return (config, useCache);
    }

    private static List<int> Ints(string value) =>
        [.. value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => int.Parse(s, System.Globalization.CultureInfo.InvariantCulture))];

    private static EvalConfig WithLimit(EvalConfig config, int limit) => config with
    {
        Lm = config.Lm is null ? null : config.Lm with { Limit = limit },
        Qa = [.. config.Qa.Select(q => q with { Limit = limit })],
        Retrieval = [.. config.Retrieval.Select(r => r with { Limit = limit })],
    };
}
