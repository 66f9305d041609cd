namespace Retro.Core;

/// <summary>
/// The neighbour gate (<see cref="Options.RetrievalOptions.MinNeighbourMatch"/>): a neighbour retrieved for chunk u
/// conditions the prediction of chunk u+1 only when its own chunk repeats part of chunk u. A neighbour that repeats the
/// text just read is likely to continue it, and the decoder copies from it; one that only shares the topic tells the
/// decoder little, and reading it costs bits (docs/training.md, "A gate on the neighbours"). Chunk u is known when
/// chunk u+1 is predicted, so the gate looks at nothing the decoder has not read. The same score as
/// <c>train_retro.neighbour_match</c> in src/training. Its tail test (<see cref="Options.RetrievalOptions.NeighbourTail"/>,
/// <see cref="HasTail"/>) also asks the neighbour to hold where chunk u ends: one that repeats only the chunk's beginning
/// (a shared heading, a boilerplate line) passes the match and then goes elsewhere (docs/training.md, "A tail on the
/// gate"); <c>train_retro.neighbour_has_tail</c> is the same test.
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
    /// Whether <paramref name="neighbour"/> (its chunk followed by its continuation) holds the last
    /// <paramref name="tail"/> tokens of <paramref name="chunk"/> in a row, with at least one token after them: true when
    /// <paramref name="tail"/> is 0 (the test off); a chunk shorter than the tail is tested whole.
    /// </summary>
    public static bool HasTail(ReadOnlySpan<int> chunk, Chunk neighbour, int tail)
    {
        ArgumentNullException.ThrowIfNull(neighbour);
        if (tail <= 0) return true;
        var end = chunk[Math.Max(0, chunk.Length - tail)..];
        int[] a = neighbour.Tokens, b = neighbour.ContinuationTokens;
        int n = a.Length + b.Length, len = end.Length;
        for (int p = 0; p + len < n; p++) // a token must follow the match
        {
            int i = 0;
            while (i < len && (p + i < a.Length ? a[p + i] : b[p + i - a.Length]) == end[i]) i++;
            if (i == len) return true;
        }
        return false;
    }

    /// <summary>
    /// Whether the decoder reads <paramref name="neighbour"/> for <paramref name="chunk"/>: when <see cref="Match"/> of the
    /// chunk and the neighbour's own chunk (not its continuation) reaches <paramref name="minMatch"/> (0 = no minimum) and
    /// the neighbour <see cref="HasTail"/> of <paramref name="tail"/> tokens (0 = no tail test). Both 0: the gate is off.
    /// </summary>
    public static bool Reads(ReadOnlySpan<int> chunk, Chunk neighbour, double minMatch, int tail = 0)
    {
        ArgumentNullException.ThrowIfNull(neighbour);
        return (minMatch <= 0 || Match(chunk, neighbour.Tokens) >= minMatch) && HasTail(chunk, neighbour, tail);
    }

    /// <summary>Whether each of <paramref name="retrieved"/> is among <paramref name="read"/> (what <see cref="Read"/> kept of them).</summary>
    public static bool[] Flags(IReadOnlyList<Neighbour> retrieved, IReadOnlyList<Neighbour> read)
    {
        ArgumentNullException.ThrowIfNull(retrieved);
        ArgumentNullException.ThrowIfNull(read);
        var flags = new bool[retrieved.Count];
        for (int i = 0; i < flags.Length; i++) flags[i] = ReferenceEquals(read, retrieved) || read.Contains(retrieved[i]);
        return flags;
    }

    /// <summary>The neighbours of <paramref name="chunk"/> that the decoder reads, best first (the same list when the gate is off).</summary>
    public static IReadOnlyList<Neighbour> Read(IReadOnlyList<Neighbour> neighbours, ReadOnlySpan<int> chunk, double minMatch, int tail = 0)
    {
        ArgumentNullException.ThrowIfNull(neighbours);
        if ((minMatch <= 0 && tail <= 0) || neighbours.Count == 0) return neighbours;
        var read = new List<Neighbour>(neighbours.Count);
        foreach (var nb in neighbours)
            if (Reads(chunk, nb.Chunk, minMatch, tail)) read.Add(nb);
        return read;
    }
}
