using Retro.Core;

namespace Retro.Core.Tests;

public class HitFusionTests
{
    private static ChunkId Id(string name) => ChunkId.From(name, 0);

    private static SearchHit Hit(string name, float score) => new(Id(name), score);

    [Fact]
    public void Rrf_sums_reciprocal_ranks_and_labels_sources()
    {
        SearchHit[] dense = [Hit("a", 0.9f), Hit("b", 0.8f), Hit("c", 0.1f)];
        SearchHit[] sparse = [Hit("c", 12f), Hit("d", 3f)];
        var fused = new SearchHit[5];

        int n = HitFusion.ReciprocalRank(dense, sparse, 60, fused);

        n.ShouldBe(4);
        // both sides weigh 0.5: c: 0.5/63 + 0.5/61; a: 0.5/61; d: 0.5/62 (rank 2 sparse); b: 0.5/62 (rank 2 dense)
        fused[0].Id.ShouldBe(Id("c"));
        fused[0].Score.ShouldBe(0.5f / 63 + 0.5f / 61, 1e-7f);
        fused[0].Source.ShouldBe(HitSource.Both);
        fused[1].Id.ShouldBe(Id("a"));
        fused[1].Source.ShouldBe(HitSource.Dense);
        // b and d tie at 1/62 with the same best rank (2): dense rank decides, b first.
        fused[2].Id.ShouldBe(Id("b"));
        fused[3].Id.ShouldBe(Id("d"));
        fused[3].Source.ShouldBe(HitSource.Sparse);
        fused[2].Score.ShouldBe(fused[3].Score);
    }

    [Fact]
    public void Rrf_k_changes_how_much_rank_matters()
    {
        SearchHit[] dense = [Hit("a", 1f), Hit("b", 0.5f)];
        SearchHit[] sparse = [Hit("b", 1f)];
        var fused = new SearchHit[2];
        HitFusion.ReciprocalRank(dense, sparse, 1, fused);
        fused[0].Score.ShouldBe(0.5f / 3 + 0.5f / 2, 1e-6f);
        fused[0].Id.ShouldBe(Id("b"));
        fused[1].Score.ShouldBe(0.25f, 1e-6f);
    }

    [Fact]
    public void Weighted_rrf_lets_the_stronger_side_lead()
    {
        SearchHit[] dense = [Hit("a", 1f), Hit("b", 0.5f)];
        SearchHit[] sparse = [Hit("b", 9f), Hit("c", 3f)];
        var fused = new SearchHit[3];
        HitFusion.Fuse(dense, sparse, FusionMethod.Rrf, 60, 0.8f, fused);
        // a: 0.8/61 = 0.013115; b: 0.8/62 + 0.2/61 = 0.016182; c: 0.2/62 = 0.003226
        fused.Select(h => h.Id).ShouldBe([Id("b"), Id("a"), Id("c")]);
        fused.Select(h => h.Score).ShouldBe([0.8f / 62 + 0.2f / 61, 0.8f / 61, 0.2f / 62], 1e-7f);
        HitFusion.Fuse(dense, sparse, FusionMethod.Rrf, 60, 1f, fused).ShouldBe(3);
        fused[0].Id.ShouldBe(Id("a")); // w = 1: the dense order, sparse-only hits last
        fused[2].Score.ShouldBe(0f);
    }

    [Fact]
    public void Weighted_normalises_each_side_then_mixes()
    {
        SearchHit[] dense = [Hit("a", 0.9f), Hit("b", 0.7f), Hit("c", 0.5f)];
        SearchHit[] sparse = [Hit("c", 10f), Hit("b", 5f), Hit("d", 0f)];
        var fused = new SearchHit[4];

        int n = HitFusion.Weighted(dense, sparse, 0.75f, fused);

        n.ShouldBe(4);
        // dense normalised: a 1, b 0.5, c 0; sparse: c 1, b 0.5, d 0.
        // a = 0.75; b = 0.375 + 0.125 = 0.5; c = 0.25; d = 0
        fused.Select(h => h.Id).ShouldBe([Id("a"), Id("b"), Id("c"), Id("d")]);
        fused.Select(h => h.Score).ShouldBe([0.75f, 0.5f, 0.25f, 0f], 1e-6f);
        fused.Select(h => h.Source).ShouldBe([HitSource.Dense, HitSource.Both, HitSource.Both, HitSource.Sparse]);
    }

    [Fact]
    public void Weighted_with_equal_scores_counts_each_as_the_best_and_breaks_ties_by_rank_then_dense()
    {
        SearchHit[] dense = [Hit("a", 0.3f), Hit("b", 0.3f)];
        SearchHit[] sparse = [Hit("c", 2f)];
        var fused = new SearchHit[3];
        HitFusion.Weighted(dense, sparse, 0.5f, fused);
        // All three score 0.5: a (dense rank 1) and c (sparse rank 1) share best rank 1; a wins on dense rank. b is last (rank 2).
        fused.Select(h => h.Id).ShouldBe([Id("a"), Id("c"), Id("b")]);
        fused.ShouldAllBe(h => h.Score == 0.5f);
    }

    [Fact]
    public void Destination_caps_the_count_and_empty_inputs_give_nothing()
    {
        SearchHit[] dense = [Hit("a", 1f), Hit("b", 0.5f)];
        var one = new SearchHit[1];
        HitFusion.ReciprocalRank(dense, [], 60, one).ShouldBe(1);
        one[0].Id.ShouldBe(Id("a"));
        HitFusion.ReciprocalRank([], [], 60, one).ShouldBe(0);
        Should.Throw<ArgumentOutOfRangeException>(() => HitFusion.ReciprocalRank(dense, [], 0, one));
        Should.Throw<ArgumentOutOfRangeException>(() => HitFusion.Weighted(dense, [], 1.5f, one));
    }
}
