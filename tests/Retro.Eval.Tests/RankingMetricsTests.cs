using Retro.Eval.Metrics;

namespace Retro.Eval.Tests;

public class RankingMetricsTests
{
    private static readonly Dictionary<string, int> Qrels = new() { ["d1"] = 1, ["d3"] = 2, ["d9"] = 0 };

    [Fact]
    public void Recall_counts_relevant_documents_in_the_first_k()
    {
        string[] ranked = ["d2", "d3", "d9", "d1"];
        RankingMetrics.RecallAt(ranked, Qrels, 1).ShouldBe(0);
        RankingMetrics.RecallAt(ranked, Qrels, 2).ShouldBe(0.5);
        RankingMetrics.RecallAt(ranked, Qrels, 3).ShouldBe(0.5);  // d9 is judged but grade 0
        RankingMetrics.RecallAt(ranked, Qrels, 16).ShouldBe(1);
    }

    [Fact]
    public void Mrr_is_the_inverse_rank_of_the_first_relevant_within_the_cut()
    {
        RankingMetrics.MrrAt(["d2", "d3", "d1"], Qrels).ShouldBe(0.5);
        RankingMetrics.MrrAt(["d1"], Qrels).ShouldBe(1);
        RankingMetrics.MrrAt(["x", "y", "d1"], Qrels, k: 2).ShouldBe(0);
        RankingMetrics.MrrAt([], Qrels).ShouldBe(0);
    }

    [Fact]
    public void Ndcg_uses_linear_gains_and_the_ideal_order_of_the_judgements()
    {
        // ranked d1 (g1) at 1, d3 (g2) at 3: DCG = 1/log2(2) + 2/log2(4) = 2; ideal d3, d1: 2 + 1/log2(3)
        double expected = 2.0 / (2 + 1 / Math.Log2(3));
        RankingMetrics.NdcgAt(["d1", "x", "d3"], Qrels)!.Value.ShouldBe(expected, 1e-12);
        RankingMetrics.NdcgAt(["d3", "d1"], Qrels)!.Value.ShouldBe(1, 1e-12);
        RankingMetrics.NdcgAt(["x"], Qrels)!.Value.ShouldBe(0);
    }

    [Fact]
    public void Queries_without_relevant_documents_have_no_score()
    {
        var none = new Dictionary<string, int>();
        RankingMetrics.RecallAt(["d1"], none, 1).ShouldBeNull();
        RankingMetrics.MrrAt(["d1"], none).ShouldBeNull();
        RankingMetrics.NdcgAt(["d1"], none).ShouldBeNull();
        var zeros = new Dictionary<string, int> { ["d1"] = 0 };
        RankingMetrics.NdcgAt(["d1"], zeros).ShouldBeNull();
    }

    [Fact]
    public void Rank_breaks_score_ties_by_id_and_drops_duplicates()
    {
        var ranked = RankingMetrics.Rank([("b", 0.5), ("c", 0.9), ("a", 0.5), ("c", 0.1), ("d", 0.2)]);
        ranked.ShouldBe(["c", "a", "b", "d"]);
        // the tie decides the metric: relevant "b" ties with "a" and ranks second
        RankingMetrics.MrrAt(RankingMetrics.Rank([("b", 1.0), ("a", 1.0)]), new Dictionary<string, int> { ["b"] = 1 }).ShouldBe(0.5);
    }
}
