namespace Retro.Eval.Metrics;

/// <summary>
/// Retrieval metrics of one query over a ranked list of document ids (best first, already deduplicated) and graded
/// relevance judgements (qrels: id to grade; grade ≤ 0 is not relevant). Ties in scores must be broken before these
/// are called (<see cref="Rank"/> breaks them by id, ordinal). A query with no relevant document has no score (null),
/// as in BEIR/pytrec_eval, which skip such queries.
/// </summary>
internal static class RankingMetrics
{
    /// <summary>Ids ordered by score descending, ties by ordinal id order, duplicates dropped (first wins).</summary>
    public static IReadOnlyList<string> Rank(IEnumerable<(string Id, double Score)> scored)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var ranked = new List<string>();
        foreach (var (id, _) in scored.OrderByDescending(s => s.Score).ThenBy(s => s.Id, StringComparer.Ordinal))
            if (seen.Add(id)) ranked.Add(id);
        return ranked;
    }

    /// <summary>Fraction of the relevant documents found in the first <paramref name="k"/>; null without relevant ones.</summary>
    public static double? RecallAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> qrels, int k)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int relevant = qrels.Count(q => q.Value > 0);
        if (relevant == 0) return null;
        int found = 0;
        for (int i = 0; i < Math.Min(k, ranked.Count); i++)
            if (qrels.TryGetValue(ranked[i], out int g) && g > 0) found++;
        return (double)found / relevant;
    }

    /// <summary>1 / rank of the first relevant document within the first <paramref name="k"/> (0 when none); null without relevant ones.</summary>
    public static double? MrrAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> qrels, int k = 10)
    {
        if (!qrels.Any(q => q.Value > 0)) return null;
        for (int i = 0; i < Math.Min(k, ranked.Count); i++)
            if (qrels.TryGetValue(ranked[i], out int g) && g > 0) return 1.0 / (i + 1);
        return 0;
    }

    /// <summary>
    /// nDCG@k with linear gain (gain = grade, discount log2(rank + 1)), as pytrec_eval's ndcg_cut; the ideal ranking
    /// sorts all judged grades descending. Null without relevant documents.
    /// </summary>
    public static double? NdcgAt(IReadOnlyList<string> ranked, IReadOnlyDictionary<string, int> qrels, int k = 10)
    {
        if (!qrels.Any(q => q.Value > 0)) return null;
        double dcg = 0;
        for (int i = 0; i < Math.Min(k, ranked.Count); i++)
            if (qrels.TryGetValue(ranked[i], out int g) && g > 0) dcg += g / Math.Log2(i + 2);
        var ideal = qrels.Values.Where(g => g > 0).OrderByDescending(g => g).Take(k).ToArray();
        double idcg = 0;
        for (int i = 0; i < ideal.Length; i++) idcg += ideal[i] / Math.Log2(i + 2);
        return dcg / idcg;
    }
}
