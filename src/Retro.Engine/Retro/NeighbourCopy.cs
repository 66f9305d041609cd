using System.Text.Json;

namespace Retro.Engine.Retro;

/// <summary>
/// The neighbour copy (<c>neighbour_copy</c> in config.json; src/training/model.py, "neighbour copy"; docs/training.md,
/// "The neighbour copy"): a pointer into the retrieved neighbours mixed into the decoder's next-token distribution.
/// For the token after position t, in chunk c ≥ 1, the candidates are the neighbours retrieved for chunk c − 1 (each its
/// chunk and continuation, cut to r), read by the decoder or not. The match L is the longest run of tokens ending at t
/// (at most <see cref="MaxMatch"/>) that a candidate also holds in a row with a token after it; that token is the
/// proposal. The largest L wins; on a tie the better-ranked neighbour, then the earlier place in it. The decoder's
/// distribution p becomes (1 − λ) p + λ [token = proposal], λ from the table by L's bucket and by whether the decoder
/// read the neighbour. Fitted on fitting text (src/training/fit_copy.py); the decoder's weights do not change.
/// </summary>
public sealed record NeighbourCopy
{
    /// <summary>The longest match looked for (<c>max_match</c>).</summary>
    public required int MaxMatch { get; init; }

    /// <summary>Bucket lower bounds, ascending (<c>match_edges</c>): bucket i holds edges[i] ≤ L &lt; edges[i+1], the last up to <see cref="MaxMatch"/>.</summary>
    public required IReadOnlyList<int> MatchEdges { get; init; }

    /// <summary>λ per bucket when the decoder read the proposing neighbour (<c>lambda_read</c>), each in [0, 1).</summary>
    public required IReadOnlyList<double> LambdaRead { get; init; }

    /// <summary>λ per bucket when it did not (<c>lambda_unread</c>), each in [0, 1).</summary>
    public required IReadOnlyList<double> LambdaUnread { get; init; }

    /// <summary>A proposal: the token, the match length, whether its neighbour was read, and its λ (0: none).</summary>
    public readonly record struct Proposal(int Token, int Match, bool FromRead, double Lambda)
    {
        /// <summary>No candidate holds the last token with a token after it.</summary>
        public static Proposal None => new(-1, 0, false, 0);

        /// <summary>True when there is a token to mix in.</summary>
        public bool Any => Token >= 0 && Lambda > 0;
    }

    /// <summary>
    /// (L, proposal) for one candidate: the longest run ending at the end of <paramref name="context"/> (at most
    /// <paramref name="maxMatch"/>) that <paramref name="neighbour"/> holds in a row with a token after it, and that
    /// token at its earliest place; (0, −1) when there is none. The same as <c>model.neighbour_copy_match</c>.
    /// </summary>
    public static (int Match, int Token) MatchOne(ReadOnlySpan<int> context, ReadOnlySpan<int> neighbour, int maxMatch)
    {
        int n = Math.Min(maxMatch, context.Length), best = 0, token = -1;
        if (n == 0) return (0, -1);
        for (int j = 0; j + 1 < neighbour.Length; j++) // a match ending at j is followed by neighbour[j + 1]
        {
            int run = 0;
            while (run < n && j - run >= 0 && neighbour[j - run] == context[context.Length - 1 - run]) run++;
            if (run > best)
            {
                best = run;
                token = neighbour[j + 1];
                if (best == n) break;
            }
        }
        return (best, token);
    }

    /// <summary>
    /// The proposal for the token after the end of <paramref name="context"/> (the sequence so far), from the
    /// <paramref name="candidates"/> retrieved for the chunk before the one that token lies in, best first, with the
    /// decoder's <paramref name="read"/> flag of each.
    /// </summary>
    public Proposal Propose(ReadOnlySpan<int> context, IReadOnlyList<int[]> candidates, IReadOnlyList<bool> read)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        ArgumentNullException.ThrowIfNull(read);
        if (read.Count != candidates.Count) throw new ArgumentException("One read flag per candidate.", nameof(read));
        var tail = context[Math.Max(0, context.Length - MaxMatch)..];
        int best = 0, token = -1;
        bool fromRead = false;
        for (int j = 0; j < candidates.Count; j++)
        {
            var (match, t) = MatchOne(tail, candidates[j], MaxMatch);
            if (match > best) (best, token, fromRead) = (match, t, read[j]);
        }
        return best == 0 ? Proposal.None : new Proposal(token, best, fromRead, Lambda(best, fromRead));
    }

    /// <summary>λ for a match of <paramref name="match"/> tokens from a neighbour read or not; 0 below the first edge.</summary>
    public double Lambda(int match, bool fromRead)
    {
        int bucket = -1;
        for (int i = 0; i < MatchEdges.Count && MatchEdges[i] <= match; i++) bucket = i;
        return bucket < 0 ? 0 : (fromRead ? LambdaRead : LambdaUnread)[bucket];
    }

    /// <summary>
    /// Mixes <paramref name="proposal"/> into next-token <paramref name="logits"/> in place, exactly: after it,
    /// softmax(logits) = (1 − λ) softmax(before) + λ [token = proposal]. Only the proposal's logit changes.
    /// </summary>
    public static void Mix(Span<float> logits, Proposal proposal)
    {
        if (!proposal.Any) return;
        if ((uint)proposal.Token >= (uint)logits.Length) throw new ArgumentOutOfRangeException(nameof(proposal), "The proposal is not a vocabulary id.");
        double max = double.NegativeInfinity;
        foreach (float l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        double logZ = max + Math.Log(sum), lam = proposal.Lambda;
        double p = Math.Exp(logits[proposal.Token] - logZ);
        // every other token keeps its logit: their probabilities scale by (1 − λ) once the proposal's is raised
        logits[proposal.Token] = (float)(logZ + Math.Log((1 - lam) * p + lam) - Math.Log(1 - lam));
    }

    /// <summary>−log2 of the mixture's probability of <paramref name="target"/>, given the decoder's own −log2 <paramref name="bits"/>.</summary>
    public static double MixedBits(double bits, int target, Proposal proposal)
    {
        if (!proposal.Any) return bits;
        double p = Math.Pow(2, -bits);
        return -Math.Log2((1 - proposal.Lambda) * p + (proposal.Token == target ? proposal.Lambda : 0));
    }

    /// <summary>Reads <c>neighbour_copy</c> from a config.json object: null when absent or null.</summary>
    public static NeighbourCopy? FromJson(JsonElement root)
    {
        if (!root.TryGetProperty("neighbour_copy", out var e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Object) throw new InvalidDataException("config.json: 'neighbour_copy' must be an object");
        return new NeighbourCopy
        {
            MaxMatch = e.TryGetProperty("max_match", out var mm) && mm.ValueKind == JsonValueKind.Number && mm.TryGetInt32(out int v)
                ? v : throw new InvalidDataException("config.json: neighbour_copy.max_match must be an integer"),
            MatchEdges = Array(e, "match_edges", x => x.TryGetInt32(out int i) ? i : throw new InvalidDataException("config.json: neighbour_copy.match_edges must hold integers")),
            LambdaRead = Array(e, "lambda_read", x => x.GetDouble()),
            LambdaUnread = Array(e, "lambda_unread", x => x.GetDouble()),
        }.Validate();
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming the first inconsistent field.</summary>
    public NeighbourCopy Validate()
    {
        if (MaxMatch < 1) throw new InvalidDataException("config.json: neighbour_copy.max_match must be >= 1");
        if (MatchEdges.Count == 0 || MatchEdges[0] < 1 || MatchEdges[^1] > MaxMatch || MatchEdges.Zip(MatchEdges.Skip(1)).Any(p => p.Second <= p.First))
            throw new InvalidDataException("config.json: neighbour_copy.match_edges must be ascending integers in [1, max_match]");
        foreach (var (name, lam) in new[] { ("lambda_read", LambdaRead), ("lambda_unread", LambdaUnread) })
        {
            if (lam.Count != MatchEdges.Count || lam.Any(x => !(x >= 0 && x < 1)))
                throw new InvalidDataException($"config.json: neighbour_copy.{name} must hold one value in [0, 1) per match edge");
        }
        return this;
    }

    private static T[] Array<T>(JsonElement e, string name, Func<JsonElement, T> read)
    {
        if (!e.TryGetProperty(name, out var a) || a.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"config.json: neighbour_copy.{name} must be an array");
        var list = new List<T>();
        foreach (var x in a.EnumerateArray())
        {
            if (x.ValueKind != JsonValueKind.Number) throw new InvalidDataException($"config.json: neighbour_copy.{name} must hold numbers");
            list.Add(read(x));
        }
        return [.. list];
    }
}
