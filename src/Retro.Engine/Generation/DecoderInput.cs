namespace Retro.Engine.Generation;

/// <summary>
/// The one validation of what a RETRO decoder session is fed, shared by the managed engine (<see cref="Retro.RetroSession"/>,
/// <see cref="Retro.RetroDecoder"/>), ONNX Runtime's sessions and the <see cref="StepBatcher{TSession}"/>: lengths,
/// vocabulary, chunk boundaries and neighbours. Each check throws <see cref="ArgumentException"/> (or
/// <see cref="ArgumentOutOfRangeException"/> for an id) naming the first problem, before anything is fed.
/// </summary>
internal static class DecoderInput
{
    /// <summary>
    /// A feed of <paramref name="tokens"/> at positions <paramref name="length"/>..: at least one token, room for V logits,
    /// within <paramref name="maxLength"/>, ids in the vocabulary, only the last token may complete a chunk, and
    /// <paramref name="neighbourCount"/> &gt; 0 only when it does.
    /// </summary>
    public static void CheckFeed(ReadOnlySpan<int> tokens, int length, int maxLength, int chunkSize, int vocabSize, int logitsLength, int neighbourCount)
    {
        if (tokens.IsEmpty) throw new ArgumentException("no tokens to feed", nameof(tokens));
        if (logitsLength < vocabSize) throw new ArgumentException($"logits holds {logitsLength} values, {vocabSize} needed", "logits");
        CheckTokens(tokens, length, maxLength, vocabSize);
        for (int i = 0; i < tokens.Length - 1; i++)
        {
            if ((length + i + 1) % chunkSize == 0)
                throw new ArgumentException($"token {i} of {tokens.Length} (position {length + i}) completes a chunk; only the last may", nameof(tokens));
        }
        CheckNeighboursAllowed(length + tokens.Length, chunkSize, neighbourCount);
    }

    /// <summary>Tokens at positions <paramref name="length"/>..: within <paramref name="maxLength"/> (of the <paramref name="owner"/>), ids in 0..V−1.</summary>
    public static void CheckTokens(ReadOnlySpan<int> tokens, int length, int maxLength, int vocabSize, string owner = "session")
    {
        if (length + tokens.Length > maxLength)
            throw new ArgumentException($"sequence of {length + tokens.Length} tokens exceeds the {owner}'s {maxLength}", nameof(tokens));
        for (int i = 0; i < tokens.Length; i++)
        {
            if ((uint)tokens[i] >= (uint)vocabSize)
                throw new ArgumentOutOfRangeException(nameof(tokens), tokens[i], $"token at {i} is outside the vocabulary 0..{vocabSize - 1}");
        }
    }

    /// <summary>Neighbours come only with the token that completes a chunk (the feed ends at <paramref name="end"/>).</summary>
    public static void CheckNeighboursAllowed(int end, int chunkSize, int neighbourCount)
    {
        if (neighbourCount > 0 && end % chunkSize != 0)
            throw new ArgumentException("neighbours come only with the token that completes a chunk", "neighbours");
    }

    /// <summary>Whether, of <paramref name="count"/> tokens fed at <paramref name="length"/>.., only the last may complete a chunk.</summary>
    public static bool OnlyLastMayComplete(int length, int count, int chunkSize)
    {
        for (int i = 0; i < count - 1; i++) if ((length + i + 1) % chunkSize == 0) return false;
        return true;
    }

    /// <summary>
    /// Checks neighbour <paramref name="j"/> of chunk <paramref name="chunk"/> (−1: not known) up to <paramref name="r"/>
    /// tokens: not null, ids below V (negative ids are padding). Returns the index of its last real token, −1 when it has none.
    /// </summary>
    public static int LastToken(int[]? neighbour, int j, int chunk, int r, int vocabSize)
    {
        var tokens = neighbour ?? throw new ArgumentException($"{Name(j, chunk)} is null", "neighbours");
        int len = Math.Min(tokens.Length, r), last = -1;
        for (int t = 0; t < len; t++)
        {
            if (tokens[t] >= vocabSize)
                throw new ArgumentException($"{Name(j, chunk)}: token {tokens[t]} at {t} is outside the vocabulary 0..{vocabSize - 1}", "neighbours");
            if (tokens[t] >= 0) last = t;
        }
        return last;
    }

    /// <summary>
    /// Checks the neighbours of chunk <paramref name="chunk"/> (−1: not known): each as <see cref="LastToken"/> does, and at
    /// most <paramref name="maxNeighbours"/> non-empty ones. Returns k', the non-empty ones, writing each one's last real
    /// token into <paramref name="lasts"/> when it is given (length ≥ <paramref name="maxNeighbours"/>).
    /// </summary>
    public static int CheckNeighbours(IReadOnlyList<int[]>? neighbours, int chunk, int r, int vocabSize, int maxNeighbours, Span<int> lasts = default)
    {
        if (neighbours is null) return 0;
        int k = 0;
        for (int j = 0; j < neighbours.Count; j++)
        {
            int last = LastToken(neighbours[j], j, chunk, r, vocabSize);
            if (last < 0) continue;
            if (k == maxNeighbours) throw TooManyNeighbours(chunk, maxNeighbours);
            if (!lasts.IsEmpty) lasts[k] = last;
            k++;
        }
        return k;
    }

    /// <summary>The error for a chunk with more non-empty neighbours than a session holds.</summary>
    public static ArgumentException TooManyNeighbours(int chunk, int maxNeighbours) => new(
        $"{(chunk >= 0 ? $"chunk {chunk} has more" : "more")} than {maxNeighbours} non-empty neighbours (the session's limit)", "neighbours");

    private static string Name(int j, int chunk) => chunk >= 0 ? $"neighbour {j} of chunk {chunk}" : $"neighbour {j}";
}
