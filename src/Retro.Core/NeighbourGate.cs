namespace Retro.Core;

/// <summary>
/// The neighbour gate (<see cref="Options.RetrievalOptions.MinNeighbourMatch"/>): a neighbour retrieved for chunk u
/// conditions the prediction of chunk u+1 only when its own chunk repeats part of chunk u. A neighbour that repeats the
/// text just read is likely to continue it, and the decoder copies from it; one that only shares the topic tells the
/// decoder little, and reading it costs bits (docs/training.md, "A gate on the neighbours"). Chunk u is known when
/// chunk u+1 is predicted, so the gate looks at nothing the decoder has not read. The same score as
/// <c>train_retro.neighbour_match</c> in src/training.
/// </summary>
public static class NeighbourGate
{
    /// <summary>
    /// The longest run of tokens that <paramref name="chunk"/> and <paramref name="neighbourChunk"/> share, contiguously
    /// in both, over the length of <paramref name="chunk"/>: in [0, 1], 0 for an empty chunk.
    /// </summary>
    public static double Match(ReadOnlySpan<int> chunk, ReadOnlySpan<int> neighbourChunk)
    {
        if (chunk.IsEmpty || neighbourChunk.IsEmpty) return 0;
        int n = neighbourChunk.Length;
        Span<int> prev = n <= 256 ? stackalloc int[n + 1] : new int[n + 1];
        Span<int> cur = n <= 256 ? stackalloc int[n + 1] : new int[n + 1];
        prev.Clear();
        int best = 0;
        foreach (int a in chunk)
        {
            cur[0] = 0;
            for (int j = 0; j < n; j++)
            {
                int run = neighbourChunk[j] == a ? prev[j] + 1 : 0;
                cur[j + 1] = run;
                if (run > best) best = run;
            }
            var t = prev;
            prev = cur;
            cur = t;
        }
        return (double)best / chunk.Length;
    }

    /// <summary>
    /// Whether the decoder reads <paramref name="neighbour"/> for <paramref name="chunk"/>: always when
    /// <paramref name="minMatch"/> is 0 (the gate off), else when <see cref="Match"/> of the chunk and the neighbour's own
    /// chunk (not its continuation) reaches it.
    /// </summary>
    public static bool Reads(ReadOnlySpan<int> chunk, Chunk neighbour, double minMatch)
    {
        ArgumentNullException.ThrowIfNull(neighbour);
        return minMatch <= 0 || Match(chunk, neighbour.Tokens) >= minMatch;
    }

    /// <summary>The neighbours of <paramref name="chunk"/> that the decoder reads, best first (the same list when the gate is off).</summary>
    public static IReadOnlyList<Neighbour> Read(IReadOnlyList<Neighbour> neighbours, ReadOnlySpan<int> chunk, double minMatch)
    {
        ArgumentNullException.ThrowIfNull(neighbours);
        if (minMatch <= 0 || neighbours.Count == 0) return neighbours;
        var read = new List<Neighbour>(neighbours.Count);
        foreach (var nb in neighbours)
            if (Reads(chunk, nb.Chunk, minMatch)) read.Add(nb);
        return read;
    }
}
