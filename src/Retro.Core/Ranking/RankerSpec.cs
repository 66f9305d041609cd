using System.Text.Json;

namespace Retro.Core.Ranking;

/// <summary>
/// A learned ranker's <c>ranker.json</c> (docs/model-format.md, "The learned ranker"): the features of
/// <see cref="LexicalRanker"/>, their parameters and one weight per feature. Written by
/// <c>src/training/fit_ranker.py</c>.
/// </summary>
public sealed record RankerSpec
{
    /// <summary>The file name in a ranker folder.</summary>
    public const string FileName = "ranker.json";

    /// <summary>The features, in the order <see cref="Weights"/> and <see cref="LexicalRanker.Features"/> use.</summary>
    public static readonly IReadOnlyList<string> FeatureNames = ["first_stage", "coverage", "window", "bigrams", "title", "same_document", "title_precision"];

    /// <summary>One weight per feature of <see cref="FeatureNames"/>.</summary>
    public required double[] Weights { get; init; }

    /// <summary>Words per window of the <c>window</c> feature (≥ 1).</summary>
    public int Window { get; init; } = 12;

    /// <summary>k of the <c>first_stage</c> feature, (k + 1) / (k + 1 + i) for the candidate at 0-based rank i (≥ 0).</summary>
    public int RankK { get; init; } = 10;

    /// <summary>Lower-cased words that are not question terms.</summary>
    public required IReadOnlySet<string> StopWords { get; init; }

    /// <summary>Suffixes stripped from a word (the first that fits), leaving more than <see cref="MinStem"/> characters.</summary>
    public required IReadOnlyList<string> Suffixes { get; init; }

    /// <summary>Characters a stemmed word keeps more than.</summary>
    public int MinStem { get; init; } = 3;

    /// <summary>Parses and validates a <c>ranker.json</c> object.</summary>
    /// <exception cref="InvalidDataException">Not a ranker of this format, or a field out of range.</exception>
    public static RankerSpec Parse(string json, string source = "ranker.json")
    {
        ArgumentNullException.ThrowIfNull(json);
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw Bad(source, "is not a JSON object");
            if (!root.TryGetProperty("format", out var format) || format.ValueKind != JsonValueKind.String || format.GetString() != "retro-ranker")
                throw Bad(source, "'format' must be \"retro-ranker\"");
            if (!root.TryGetProperty("format_version", out var version) || !version.TryGetInt32(out int v) || v != 1)
                throw Bad(source, "'format_version' must be 1");
            var names = Strings(root, "features", source);
            if (!names.SequenceEqual(FeatureNames))
                throw Bad(source, $"'features' must be [{string.Join(", ", FeatureNames)}], got [{string.Join(", ", names)}]");
            if (!root.TryGetProperty("weights", out var w) || w.ValueKind != JsonValueKind.Array || w.GetArrayLength() != FeatureNames.Count)
                throw Bad(source, $"'weights' must be an array of {FeatureNames.Count} numbers");
            var weights = new double[FeatureNames.Count];
            int i = 0;
            foreach (var e in w.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Number || !double.IsFinite(weights[i] = e.GetDouble()))
                    throw Bad(source, $"weights[{i}] is not a finite number");
                i++;
            }
            int window = Int(root, "window", 12, 1, source), rankK = Int(root, "rank_k", 10, 0, source), minStem = Int(root, "min_stem", 3, 0, source);
            var suffixes = Strings(root, "suffixes", source);
            if (suffixes.Any(string.IsNullOrEmpty)) throw Bad(source, "'suffixes' holds an empty string");
            return new RankerSpec
            {
                Weights = weights,
                Window = window,
                RankK = rankK,
                MinStem = minStem,
                StopWords = new HashSet<string>(Strings(root, "stop_words", source), StringComparer.Ordinal),
                Suffixes = suffixes,
            };
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{source}: not valid JSON: {e.Message}", e);
        }
    }

    private static List<string> Strings(JsonElement root, string name, string source)
    {
        if (!root.TryGetProperty(name, out var a) || a.ValueKind != JsonValueKind.Array)
            throw Bad(source, $"'{name}' must be an array of strings");
        var list = new List<string>(a.GetArrayLength());
        foreach (var e in a.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw Bad(source, $"'{name}' must be an array of strings");
            list.Add(e.GetString()!);
        }
        return list;
    }

    private static int Int(JsonElement root, string name, int fallback, int min, string source)
    {
        if (!root.TryGetProperty(name, out var e)) return fallback;
        if (!e.TryGetInt32(out int v) || v < min) throw Bad(source, $"'{name}' must be an integer ≥ {min}");
        return v;
    }

    private static InvalidDataException Bad(string source, string what) => new($"{source}: {what}");
}
