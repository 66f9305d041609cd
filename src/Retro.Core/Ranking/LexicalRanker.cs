using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Retro.Core.Ranking;

/// <summary>One candidate as the learned ranker reads it: its document, title and text.</summary>
public readonly record struct RankerCandidate(string DocumentId, string Title, string Text);

/// <summary>
/// The learned ranker (docs/model-format.md, "The learned ranker"): reorders the first stage's candidates by a linear
/// model (<see cref="RankerSpec.Weights"/>) over the features of <see cref="RankerSpec.FeatureNames"/>: the first stage's
/// order, and how much of the question's terms the candidate holds (anywhere, in a window of consecutive words, as
/// consecutive pairs, in its title), each term weighed by its rarity among the candidates; how many candidates
/// come from the same document; and how much of its title the question's terms make up. Candidates arrive in first-stage order, so its scores already weigh that order
/// (<see cref="WeighsFirstStage"/>). Thread-safe; no model weights, well under a millisecond for 16 candidates.
/// <c>src/training/fit_ranker.py</c> is the reference and fits the weights; tests/fixtures/ranker-features.json holds
/// cases both check.
/// </summary>
public sealed class LexicalRanker : IReranker
{
    private readonly double[] _weights;

    /// <summary>A ranker of <paramref name="spec"/>, reported as <paramref name="modelId"/>.</summary>
    public LexicalRanker(RankerSpec spec, string modelId)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentException.ThrowIfNullOrEmpty(modelId);
        if (spec.Weights.Length != RankerSpec.FeatureNames.Count)
            throw new ArgumentException($"the spec has {spec.Weights.Length} weights for {RankerSpec.FeatureNames.Count} features", nameof(spec));
        Spec = spec;
        ModelId = modelId;
        _weights = [.. spec.Weights];
    }

    /// <summary>Whether <paramref name="folder"/> is a ranker folder (holds <see cref="RankerSpec.FileName"/>).</summary>
    public static bool IsRankerFolder(string folder) => File.Exists(Path.Combine(folder, RankerSpec.FileName));

    /// <summary>Loads a ranker folder; its id is "folder@hash", the first 12 hex digits of the SHA-256 of ranker.json.</summary>
    /// <exception cref="FileNotFoundException">No ranker.json in the folder.</exception>
    /// <exception cref="InvalidDataException">ranker.json is not a ranker of this format.</exception>
    public static LexicalRanker Load(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        string path = Path.Combine(folder, RankerSpec.FileName);
        if (!File.Exists(path)) throw new FileNotFoundException($"no {RankerSpec.FileName} in the ranker folder '{folder}'", path);
        byte[] bytes = File.ReadAllBytes(path);
        var spec = RankerSpec.Parse(Encoding.UTF8.GetString(bytes), path);
        string name = new DirectoryInfo(Path.GetFullPath(folder)).Name;
        return new LexicalRanker(spec, $"{name}@{Convert.ToHexStringLower(SHA256.HashData(bytes))[..12]}");
    }

    /// <summary>The ranker's features and weights.</summary>
    public RankerSpec Spec { get; }

    /// <inheritdoc />
    public string ModelId { get; }

    /// <inheritdoc />
    public bool WeighsFirstStage => true;

    /// <summary>Scores texts in first-stage order, each its own document without a title.</summary>
    public void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores)
    {
        var list = new RankerCandidate[candidates.Length];
        for (int i = 0; i < list.Length; i++) list[i] = new RankerCandidate("#" + i.ToString(CultureInfo.InvariantCulture), "", candidates[i]);
        Score(query, list, scores);
    }

    /// <inheritdoc />
    public void Score(string query, IReadOnlyList<Neighbour> candidates, Span<float> scores)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var list = new RankerCandidate[candidates.Count];
        for (int i = 0; i < list.Length; i++)
        {
            var c = candidates[i].Chunk;
            list[i] = new RankerCandidate(c.DocumentId, c.Title, c.Text);
        }
        Score(query, list, scores);
    }

    /// <summary>Writes one score per candidate (first-stage order) into <paramref name="scores"/>: the weights' dot product with <see cref="Features"/>.</summary>
    public void Score(string query, IReadOnlyList<RankerCandidate> candidates, Span<float> scores)
    {
        int n = candidates.Count, f = _weights.Length;
        if (scores.Length < n) throw new ArgumentException($"scores holds {scores.Length} for {n} candidates", nameof(scores));
        var features = new double[n * f];
        Features(query, candidates, features);
        for (int i = 0; i < n; i++)
        {
            double s = 0;
            for (int j = 0; j < f; j++) s += _weights[j] * features[i * f + j];
            scores[i] = (float)s;
        }
    }

    /// <summary>
    /// The features of <paramref name="candidates"/> (first-stage order) for <paramref name="query"/>, row-major
    /// (candidate, feature in <see cref="RankerSpec.FeatureNames"/> order), into <paramref name="features"/>.
    /// </summary>
    public void Features(string query, IReadOnlyList<RankerCandidate> candidates, Span<double> features)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentNullException.ThrowIfNull(candidates);
        int n = candidates.Count, f = RankerSpec.FeatureNames.Count;
        if (features.Length < n * f) throw new ArgumentException($"features holds {features.Length} for {n} × {f}", nameof(features));
        features[..(n * f)].Clear();
        if (n == 0) return;

        // the question: its terms (stemmed, not stop words, once each) and the bigrams of consecutive terms
        var sequence = new List<string>();
        foreach (var w in Words(query))
            if (!Spec.StopWords.Contains(w)) sequence.Add(Stem(w));
        var termIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in sequence) termIndex.TryAdd(t, termIndex.Count);
        int terms = termIndex.Count;
        var bigrams = new HashSet<(int, int)>();
        for (int j = 0; j + 1 < sequence.Count; j++) bigrams.Add((termIndex[sequence[j]], termIndex[sequence[j + 1]]));

        // each candidate's words as term indexes (-1: not a term), title words first; its title's terms
        var words = new int[n][];
        var titleHas = new bool[n][];
        var titlePrecision = new double[n];
        var titleWords = new HashSet<string>(StringComparer.Ordinal);
        var df = new int[terms];
        var seen = new bool[terms];
        for (int i = 0; i < n; i++)
        {
            var c = candidates[i];
            var title = Words(c.Title ?? "");
            var all = new List<int>(title.Count + 64);
            titleHas[i] = new bool[terms];
            titleWords.Clear();
            foreach (var w in title)
            {
                string stem = Stem(w);
                int t = termIndex.GetValueOrDefault(stem, -1);
                all.Add(t);
                if (t >= 0) titleHas[i][t] = true;
                if (!Spec.StopWords.Contains(w)) titleWords.Add(stem);
            }
            int titleTerms = 0;
            foreach (var stem in titleWords) if (termIndex.ContainsKey(stem)) titleTerms++;
            titlePrecision[i] = titleWords.Count == 0 ? 0 : titleTerms / (double)titleWords.Count;
            foreach (var w in Words(c.Text ?? "")) all.Add(termIndex.GetValueOrDefault(Stem(w), -1));
            words[i] = [.. all];
            Array.Clear(seen);
            foreach (int t in words[i])
                if (t >= 0 && !seen[t]) { seen[t] = true; df[t]++; }
        }
        var idf = new double[terms];
        double total = 0;
        for (int t = 0; t < terms; t++) total += idf[t] = Math.Log(1 + (n - df[t] + 0.5) / (df[t] + 0.5));

        var counts = new int[terms];
        var found = new HashSet<(int, int)>();
        for (int i = 0; i < n; i++)
        {
            var row = features.Slice(i * f, f);
            row[0] = (Spec.RankK + 1.0) / (Spec.RankK + 1.0 + i);
            int same = 0;
            for (int j = 0; j < n; j++)
                if (string.Equals(candidates[j].DocumentId, candidates[i].DocumentId, StringComparison.Ordinal)) same++;
            row[5] = (same - 1) / (double)n;
            row[6] = titlePrecision[i];
            if (terms == 0) continue;

            var ws = words[i];
            Array.Clear(seen);
            foreach (int t in ws) if (t >= 0) seen[t] = true;
            double covered = 0, inTitle = 0;
            for (int t = 0; t < terms; t++)
            {
                if (seen[t]) covered += idf[t];
                if (titleHas[i][t]) inTitle += idf[t];
            }
            row[1] = covered / total;
            row[4] = inTitle / total;

            // the best window of Window consecutive words (all of them when fewer), slid one word at a time
            Array.Clear(counts);
            int width = Math.Min(Spec.Window, ws.Length);
            double inWindow = 0;
            for (int a = 0; a < width; a++)
                if (ws[a] >= 0 && counts[ws[a]]++ == 0) inWindow += idf[ws[a]];
            double best = inWindow;
            for (int a = width; a < ws.Length; a++)
            {
                int add = ws[a], drop = ws[a - width];
                if (drop >= 0 && --counts[drop] == 0) inWindow -= idf[drop];
                if (add >= 0 && counts[add]++ == 0) inWindow += idf[add];
                if (inWindow > best) best = inWindow;
            }
            row[2] = best / total;

            found.Clear();
            for (int a = 0; a + 1 < ws.Length; a++)
                if (ws[a] >= 0 && ws[a + 1] >= 0 && bigrams.Contains((ws[a], ws[a + 1]))) found.Add((ws[a], ws[a + 1]));
            row[3] = found.Count / (double)Math.Max(1, bigrams.Count);
        }
    }

    /// <summary>Runs of letters and decimal digits, lower-cased per character (UTF-16 surrogates end a word).</summary>
    public static List<string> Words(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var list = new List<string>();
        var sb = new StringBuilder();
        foreach (char c in text)
        {
            if (char.IsLetter(c) || char.GetUnicodeCategory(c) == UnicodeCategory.DecimalDigitNumber) sb.Append(char.ToLowerInvariant(c));
            else if (sb.Length > 0)
            {
                list.Add(sb.ToString());
                sb.Clear();
            }
        }
        if (sb.Length > 0) list.Add(sb.ToString());
        return list;
    }

    /// <summary>The word without the first suffix of <see cref="RankerSpec.Suffixes"/> that leaves more than <see cref="RankerSpec.MinStem"/> characters.</summary>
    public string Stem(string word)
    {
        foreach (var suffix in Spec.Suffixes)
            if (word.Length > suffix.Length + Spec.MinStem && word.EndsWith(suffix, StringComparison.Ordinal)) return word[..^suffix.Length];
        return word;
    }
}
