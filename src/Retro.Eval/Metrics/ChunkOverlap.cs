namespace Retro.Eval.Metrics;

/// <summary>
/// Leakage between a chunk and its retrieved neighbours, after the RETRO paper's "chunk overlap": the fraction of the
/// chunk's tokens that lie inside some run of at least <see cref="NGram"/> consecutive chunk tokens that also occurs,
/// contiguously, in one of the neighbours (token ids compared). 0 = nothing copied; 1 = the chunk appears verbatim.
/// A chunk shorter than <see cref="NGram"/> tokens can only match whole.
/// </summary>
internal static class ChunkOverlap
{
    /// <summary>Shortest shared span counted (RETRO's filtering and leakage analysis use 8-gram spans).</summary>
    public const int NGram = 8;

    /// <summary>Upper bounds of the overlap buckets BPB is reported by (0–12.5%, –25%, –50%, –100%).</summary>
    public static readonly double[] BucketBounds = [0.125, 0.25, 0.5, 1.0];

    /// <summary>Overlap of <paramref name="chunk"/> with <paramref name="neighbours"/>, in [0, 1]; 0 for an empty chunk.</summary>
    public static double Fraction(ReadOnlySpan<int> chunk, IReadOnlyList<int[]> neighbours)
    {
        if (chunk.IsEmpty || neighbours.Count == 0) return 0;
        int n = Math.Min(NGram, chunk.Length);
        var grams = new HashSet<string>(StringComparer.Ordinal);
        foreach (var nb in neighbours)
            for (int i = 0; i + n <= nb.Length; i++) grams.Add(Key(nb.AsSpan(i, n)));
        var covered = new bool[chunk.Length];
        for (int i = 0; i + n <= chunk.Length; i++)
        {
            if (!grams.Contains(Key(chunk.Slice(i, n)))) continue;
            for (int j = i; j < i + n; j++) covered[j] = true;
        }
        int count = 0;
        foreach (bool c in covered) if (c) count++;
        return (double)count / chunk.Length;
    }

    /// <summary>Index of the bucket of <paramref name="fraction"/> in <see cref="BucketBounds"/>.</summary>
    public static int Bucket(double fraction)
    {
        for (int i = 0; i < BucketBounds.Length; i++) if (fraction <= BucketBounds[i]) return i;
        return BucketBounds.Length - 1;
    }

    /// <summary>Label of bucket <paramref name="index"/>, e.g. "≤12.5%".</summary>
    public static string BucketLabel(int index) => $"≤{BucketBounds[index] * 100:0.#}%";

    private static string Key(ReadOnlySpan<int> ids) => string.Join(',', ids.ToArray());
}
