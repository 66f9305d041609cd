namespace Retro.Core;

/// <summary>
/// Merges a dense and a sparse result list (each best first, ids unique within a list) into one, labelling each hit
/// with the side(s) that found it. Ties on the fused score go to the hit with the better best rank, then the better
/// dense rank, then the smaller id, so the order is deterministic.
/// </summary>
public static class HitFusion
{
    /// <summary>
    /// Fuses with <paramref name="method"/> into <paramref name="destination"/>, best first; returns how many were written
    /// (the size of the union, capped at the destination's length).
    /// </summary>
    /// <param name="dense">Dense hits, best first.</param>
    /// <param name="sparse">Sparse hits, best first.</param>
    /// <param name="method">RRF or weighted.</param>
    /// <param name="rrfK">RRF's k (≥ 1): a hit at 1-based rank r in a list adds w_side / (k + r).</param>
    /// <param name="denseWeight">
    /// The dense side's weight w in [0, 1], the sparse side's 1 − w: weighted RRF adds w / (k + r) for a dense rank r and
    /// (1 − w) / (k + r) for a sparse one (w = 0.5 orders exactly as plain RRF); weighted score fusion takes
    /// w · dense + (1 − w) · sparse, each min-max normalised to [0, 1].
    /// </param>
    /// <param name="destination">Receives the fused hits with their sources.</param>
    public static int Fuse(ReadOnlySpan<SearchHit> dense, ReadOnlySpan<SearchHit> sparse, FusionMethod method, int rrfK, float denseWeight,
        Span<SearchHit> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(rrfK, 1);
        if (!(denseWeight >= 0f && denseWeight <= 1f)) throw new ArgumentOutOfRangeException(nameof(denseWeight), denseWeight, "must be in [0, 1]");
        var entries = new Dictionary<ChunkId, Entry>(dense.Length + sparse.Length);
        Add(entries, dense, HitSource.Dense, method, rrfK, denseWeight);
        Add(entries, sparse, HitSource.Sparse, method, rrfK, 1f - denseWeight);

        var all = new Entry[entries.Count];
        entries.Values.CopyTo(all, 0);
        Array.Sort(all, Compare);
        int n = Math.Min(all.Length, destination.Length);
        for (int i = 0; i < n; i++) destination[i] = new SearchHit(all[i].Id, all[i].Score) { Source = all[i].Source };
        return n;
    }

    /// <summary>Reciprocal rank fusion with <paramref name="k"/>, both sides weighted alike (see <see cref="Fuse"/>).</summary>
    public static int ReciprocalRank(ReadOnlySpan<SearchHit> dense, ReadOnlySpan<SearchHit> sparse, int k, Span<SearchHit> destination)
        => Fuse(dense, sparse, FusionMethod.Rrf, k, 0.5f, destination);

    /// <summary>Weighted min-max score fusion with dense weight <paramref name="denseWeight"/> (see <see cref="Fuse"/>).</summary>
    public static int Weighted(ReadOnlySpan<SearchHit> dense, ReadOnlySpan<SearchHit> sparse, float denseWeight, Span<SearchHit> destination)
        => Fuse(dense, sparse, FusionMethod.Weighted, 60, denseWeight, destination);

    private static void Add(Dictionary<ChunkId, Entry> entries, ReadOnlySpan<SearchHit> hits, HitSource side, FusionMethod method, int rrfK, float weight)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (var h in hits)
        {
            min = MathF.Min(min, h.Score);
            max = MathF.Max(max, h.Score);
        }
        for (int i = 0; i < hits.Length; i++)
        {
            var h = hits[i];
            float contribution = method == FusionMethod.Rrf
                ? weight / (rrfK + i + 1)
                : weight * (max > min ? (h.Score - min) / (max - min) : 1f);
            entries.TryGetValue(h.Id, out var e);
            if (e.Source.HasFlag(side)) continue; // a duplicate within one list counts once, at its best rank
            entries[h.Id] = new Entry(h.Id, e.Score + contribution, e.Source | side,
                side == HitSource.Dense ? i : (e.Source == HitSource.None ? int.MaxValue : e.DenseRank),
                side == HitSource.Sparse ? i : (e.Source == HitSource.None ? int.MaxValue : e.SparseRank));
        }
    }

    private static int Compare(Entry a, Entry b)
    {
        int c = b.Score.CompareTo(a.Score);
        if (c != 0) return c;
        c = Math.Min(a.DenseRank, a.SparseRank).CompareTo(Math.Min(b.DenseRank, b.SparseRank));
        if (c != 0) return c;
        c = a.DenseRank.CompareTo(b.DenseRank);
        return c != 0 ? c : a.Id.CompareTo(b.Id);
    }

    private readonly record struct Entry(ChunkId Id, float Score, HitSource Source, int DenseRank, int SparseRank);
}
