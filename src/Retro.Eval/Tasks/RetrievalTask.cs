using System.Diagnostics;
using Retro.Core;
using Retro.Core.Options;
using Retro.Eval.Data;
using Retro.Eval.Metrics;
using Retro.Eval.Running;

namespace Retro.Eval.Tasks;

/// <summary>
/// Retrieval quality: each query retrieves <c>depth</c> chunks (bi-encoder order, or the cross-encoder's order over
/// <c>candidates</c> in rerank mode); chunks map to their documents (first occurrence wins) and the document ranking
/// is scored against the qrels: recall@k for every k of the sweep, MRR@10 and nDCG@10. Queries without a relevant
/// document are counted and skipped. <paramref name="relevanceKey"/> maps a document id to what the qrels judge (a
/// definition entry to its term); by default the id itself.
/// </summary>
internal sealed class RetrievalTask(IRetriever retriever, Func<string, string>? relevanceKey = null)
{
    /// <summary>Scores <paramref name="queries"/> in one mode.</summary>
    public async Task<PartResult> RunAsync(IReadOnlyList<EvalQuery> queries, RetrievalOptions options, IReadOnlyList<int> ks,
        IProgress<string> progress, CancellationToken ct)
    {
        var sums = new Dictionary<string, double>();
        foreach (int k in ks) sums[$"recall@{k}"] = 0;
        sums["mrr@10"] = 0;
        sums["ndcg@10"] = 0;
        var timings = new Dictionary<string, double> { ["embed"] = 0, ["search"] = 0, ["fetch"] = 0, ["rerank"] = 0 };
        int scored = 0, skipped = 0, done = 0;
        long wallStart = Stopwatch.GetTimestamp();
        foreach (var q in queries)
        {
            ct.ThrowIfCancellationRequested();
            var result = await retriever.RetrieveAsync(q.Text, options, ct);
            timings["embed"] += result.Timings.EmbedMs;
            timings["search"] += result.Timings.SearchMs;
            timings["fetch"] += result.Timings.FetchMs;
            timings["rerank"] += result.Timings.RerankMs;
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var ranked = new List<string>();
            foreach (var n in result.Neighbours)
            {
                string key = relevanceKey is null ? n.Chunk.DocumentId : relevanceKey(n.Chunk.DocumentId);
                if (seen.Add(key)) ranked.Add(key);
            }
            done++;
            if (RankingMetrics.MrrAt(ranked, q.Qrels) is not { } mrr) { skipped++; continue; }
            scored++;
            sums["mrr@10"] += mrr;
            sums["ndcg@10"] += RankingMetrics.NdcgAt(ranked, q.Qrels)!.Value;
            foreach (int k in ks) sums[$"recall@{k}"] += RankingMetrics.RecallAt(ranked, q.Qrels, k)!.Value;
            if (done % 10 == 0 || done == queries.Count) progress.Report($"{done}/{queries.Count} queries, MRR@10 {sums["mrr@10"] / scored:F3}");
        }
        var metrics = sums.ToDictionary(p => p.Key, p => scored == 0 ? double.NaN : p.Value / scored);
        int total = Math.Max(1, queries.Count);
        var perQuery = timings.ToDictionary(p => p.Key, p => p.Value / total);
        perQuery["wall"] = Stopwatch.GetElapsedTime(wallStart).TotalMilliseconds / total;
        return new PartResult
        {
            Task = "retrieval",
            Metrics = metrics,
            Counts = new() { ["queries"] = queries.Count, ["scored"] = scored, ["no_relevant"] = skipped },
            Timings = perQuery,
        };
    }
}
