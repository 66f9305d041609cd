using System.Text;

namespace Retro.Eval.Metrics;

/// <summary>
/// Exact match and token F1 exactly as the official SQuAD v2.0 evaluation script: answers are normalised (lowercase,
/// ASCII punctuation removed, articles a/an/the removed, whitespace collapsed); the score of a prediction is the maximum
/// over the gold answers; an unanswerable question's only gold answer is the empty string.
/// </summary>
internal static class SquadMetrics
{
    // Python's string.punctuation
    private const string Punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    /// <summary>The official normalize_answer: lower, remove punctuation, remove articles, fix whitespace.</summary>
    public static string Normalize(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var sb = new StringBuilder(text.Length);
        foreach (char c in text.ToLowerInvariant())
            if (Punctuation.IndexOf(c) < 0) sb.Append(c);
        // re.sub(r'\b(a|an|the)\b', ' ', text) then ' '.join(text.split())
        string noArticles = System.Text.RegularExpressions.Regex.Replace(sb.ToString(), @"\b(a|an|the)\b", " ");
        return string.Join(' ', Tokens(noArticles));
    }

    /// <summary>Whitespace tokens of a normalised text (Python's str.split()).</summary>
    private static string[] Tokens(string text) => text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);

    /// <summary>1 when the normalised texts are equal, else 0.</summary>
    public static double ExactMatch(string prediction, string gold) => Normalize(prediction) == Normalize(gold) ? 1 : 0;

    /// <summary>Token F1 of the normalised texts; when either has no tokens, 1 if both are empty else 0.</summary>
    public static double F1(string prediction, string gold)
    {
        var pred = Tokens(Normalize(prediction));
        var truth = Tokens(Normalize(gold));
        if (pred.Length == 0 || truth.Length == 0) return pred.Length == truth.Length ? 1 : 0;
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var t in truth) counts[t] = counts.GetValueOrDefault(t) + 1;
        int common = 0;
        foreach (var t in pred)
        {
            if (counts.TryGetValue(t, out int c) && c > 0) { common++; counts[t] = c - 1; }
        }
        if (common == 0) return 0;
        double precision = (double)common / pred.Length, recall = (double)common / truth.Length;
        return 2 * precision * recall / (precision + recall);
    }

    /// <summary>
    /// (EM, F1) of <paramref name="prediction"/>, maximised over <paramref name="golds"/>; an empty gold list (an
    /// unanswerable question) counts as the single gold answer "".
    /// </summary>
    public static (double Em, double F1) Score(string prediction, IReadOnlyList<string> golds)
    {
        ArgumentNullException.ThrowIfNull(prediction);
        ArgumentNullException.ThrowIfNull(golds);
        // the official script: gold_answers = [a for a in answers if normalize_answer(a)] or ['']
        var usable = golds.Where(g => Normalize(g).Length > 0).ToList();
        if (usable.Count == 0) usable.Add("");
        double em = 0, f1 = 0;
        foreach (var g in usable)
        {
            em = Math.Max(em, ExactMatch(prediction, g));
            f1 = Math.Max(f1, F1(prediction, g));
        }
        return (em, f1);
    }
}
