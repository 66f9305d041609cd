using System.Text.Json;
using System.Text.Json.Nodes;

namespace Retro.Eval.Running;

/// <summary>A dataset as the run used it: where it came from, its content hash, how many items were evaluated.</summary>
internal sealed record DatasetInfo(string Name, string Path, string Hash, int Items);

/// <summary>Everything a run measured (<c>results.json</c>): config, model and dataset hashes, timings, parts.</summary>
internal sealed record RunResults
{
    public const string FileName = "results.json";
    /// <summary>Format of results.json; bumped when fields change meaning.</summary>
    public int FormatVersion { get; init; } = 1;
    public JsonObject Config { get; init; } = [];
    public Dictionary<string, string> Models { get; init; } = [];
    public List<DatasetInfo> Datasets { get; init; } = [];
    public DateTimeOffset Started { get; init; }
    public DateTimeOffset Finished { get; init; }
    public double WallSeconds { get; init; }
    public int PartsComputed { get; init; }
    public int PartsReused { get; init; }
    public List<PartResult> Parts { get; init; } = [];

    public void Save(string path)
    {
        string temp = path + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(this, EvalConfig.Json));
        File.Move(temp, path, overwrite: true);
    }

    public static RunResults Load(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"results file '{path}' not found", path);
        return JsonSerializer.Deserialize<RunResults>(File.ReadAllText(path), EvalConfig.Json)
            ?? throw new InvalidDataException($"'{path}' is empty");
    }
}
