using System.Numerics.Tensors;

namespace Retro.Engine.Sampling;

/// <summary>
/// Chooses next tokens from logits per <see cref="SamplingOptions"/>: repetition penalty and the no-repeat n-gram ban
/// (as Hugging Face's <c>no_repeat_ngram_size</c>: a token that would complete an n-gram already in the history is
/// excluded), then greedy or temperature / top-k / top-p sampling with a seeded generator. One instance per sequence (it holds the generator's
/// state and scratch sized by the vocabulary); not thread-safe; allocates nothing per token.
/// </summary>
public sealed class Sampler
{
    private readonly SamplingOptions _options;
    private readonly int _vocabSize;
    private readonly float[] _probs;   // (V) probabilities of the candidates, then their sorted copy
    private readonly int[] _indices;   // (V) candidate token ids
    private readonly int[] _seen;      // (V) stamp per token id: penalised in the call with that stamp
    private int[] _bannedIds = [];     // tokens the n-gram ban set to −∞ in this call, and their logits before
    private float[] _bannedLogits = [];
    private int _stamp;
    private ulong _rng;

    /// <summary>Creates a sampler for logits of length <paramref name="vocabSize"/>.</summary>
    public Sampler(int vocabSize, SamplingOptions options)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(vocabSize, 1);
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Validate();
        _vocabSize = vocabSize;
        _probs = new float[vocabSize];
        _indices = new int[vocabSize];
        _seen = new int[vocabSize];
        _rng = options.Seed ^ 0x9E3779B97F4A7C15UL;
    }

    /// <summary>The options this sampler applies.</summary>
    public SamplingOptions Options => _options;

    /// <summary>
    /// Chooses the next token. <paramref name="logits"/> (length V) is modified in place (penalty and temperature
    /// applied); <paramref name="history"/> holds the tokens the repetition penalty looks at (prompt and generated).
    /// </summary>
    public int Sample(Span<float> logits, ReadOnlySpan<int> history)
    {
        if (logits.Length != _vocabSize)
            throw new ArgumentException($"logits has length {logits.Length}, expected the vocabulary size {_vocabSize}", nameof(logits));
        if (_options.RepetitionPenalty != 1f) ApplyRepetitionPenalty(logits, history, _options.RepetitionPenalty);
        if (_options.NoRepeatNgramSize > 0) BanRepeatedNgrams(logits, history, _options.NoRepeatNgramSize);
        if (_options.Temperature == 0f) return ArgMax(logits);
        return SampleCore(logits);
    }

    /// <summary>Index of the largest value, the lowest index on ties (as <c>torch.argmax</c>); NaN never wins.</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        if (logits.IsEmpty) throw new ArgumentException("logits is empty", nameof(logits));
        int best = 0;
        float max = logits[0];
        for (int i = 1; i < logits.Length; i++)
        {
            if (logits[i] > max || float.IsNaN(max)) { max = logits[i]; best = i; }
        }
        return best;
    }

    private void ApplyRepetitionPenalty(Span<float> logits, ReadOnlySpan<int> history, float penalty)
    {
        if (++_stamp == int.MaxValue) { Array.Clear(_seen); _stamp = 1; }
        foreach (int t in history)
        {
            if ((uint)t >= (uint)_vocabSize)
                throw new ArgumentOutOfRangeException(nameof(history), t, $"history token outside the vocabulary 0..{_vocabSize - 1}");
            if (_seen[t] == _stamp) continue;
            _seen[t] = _stamp;
            float l = logits[t];
            logits[t] = l > 0f ? l / penalty : l * penalty;
        }
    }

    /// <summary>
    /// Sets to −∞ the logit of every token t such that (the last n−1 tokens of the history, t) already occurs in the
    /// history. When that would leave no token with a finite logit (only possible with a vocabulary smaller than the
    /// history), the ban is undone.
    /// </summary>
    private void BanRepeatedNgrams(Span<float> logits, ReadOnlySpan<int> history, int n)
    {
        int len = history.Length;
        if (len < n - 1) return;
        var tail = history[(len - (n - 1))..];
        int banned = 0;
        // start i: history[i .. i+n-2] equals the tail and history[i+n-1] is the token that followed it
        for (int i = 0; i + n - 1 < len; i++)
        {
            if (!history.Slice(i, n - 1).SequenceEqual(tail)) continue;
            int t = history[i + n - 1];
            if ((uint)t >= (uint)_vocabSize)
                throw new ArgumentOutOfRangeException(nameof(history), t, $"history token outside the vocabulary 0..{_vocabSize - 1}");
            if (float.IsNegativeInfinity(logits[t])) continue;
            if (banned == _bannedIds.Length) Array.Resize(ref _bannedIds, Math.Max(16, 2 * banned));
            if (banned == _bannedLogits.Length) Array.Resize(ref _bannedLogits, _bannedIds.Length);
            _bannedIds[banned] = t;
            _bannedLogits[banned++] = logits[t];
            logits[t] = float.NegativeInfinity;
        }
        if (banned == 0) return;
        foreach (float l in logits) if (!float.IsNegativeInfinity(l)) return;
        for (int i = 0; i < banned; i++) logits[_bannedIds[i]] = _bannedLogits[i];
    }

    private int SampleCore(Span<float> logits)
    {
        TensorPrimitives.Divide(logits, _options.Temperature, logits);
        int v = _vocabSize;
        int topK = _options.TopK == 0 || _options.TopK > v ? v : _options.TopK;
        float topP = _options.TopP;
        Span<float> probs = _probs;
        TensorPrimitives.SoftMax(logits, probs);

        if (topP <= 0f) return ArgMax(logits);
        if (topK == v && topP >= 1f) return Draw(probs, default, v);

        // Candidates: the nucleus never holds a token with p ≤ (1 − top_p) / V (the tail from any nucleus token on
        // weighs more than 1 − top_p and has at most V tokens, each no likelier than it), so filter before sorting.
        float floor = topP >= 1f ? -1f : (1f - topP) / v;
        int n = 0;
        for (int i = 0; i < v; i++)
        {
            if (probs[i] > floor) { _indices[n] = i; _probs[n] = probs[i]; n++; }
        }
        if (n == 0) return ArgMax(logits);
        var keys = _probs.AsSpan(0, n);
        var ids = _indices.AsSpan(0, n);
        keys.Sort(ids, Descending.Instance); // introsort: deterministic for equal inputs
        if (topK < n) n = topK;

        float total = 0f;
        for (int i = 0; i < n; i++) total += keys[i];
        if (topP < 1f)
        {
            // smallest prefix whose mass (relative to the top-k set) reaches top_p
            float cum = 0f, target = topP * total;
            int keep = n;
            for (int i = 0; i < n; i++)
            {
                cum += keys[i];
                if (cum >= target) { keep = i + 1; break; }
            }
            n = keep;
        }
        return Draw(keys[..n], ids[..n], n);
    }

    /// <summary>Draws index i with probability probs[i] / sum; returns ids[i], or i when <paramref name="ids"/> is empty.</summary>
    private int Draw(ReadOnlySpan<float> probs, ReadOnlySpan<int> ids, int n)
    {
        float total = 0f;
        for (int i = 0; i < n; i++) total += probs[i];
        float r = NextUnit() * total;
        float cum = 0f;
        int pick = -1;
        for (int i = 0; i < n; i++)
        {
            cum += probs[i];
            if (r < cum) { pick = i; break; }
        }
        if (pick < 0)
        {
            // rounding left r at or above the last cumulative sum: the last candidate with non-zero mass
            pick = 0;
            for (int i = n - 1; i >= 0; i--) if (probs[i] > 0f) { pick = i; break; }
        }
        return ids.IsEmpty ? pick : ids[pick];
    }

    /// <summary>Uniform float in [0, 1) from SplitMix64 (stable across runtimes, unlike System.Random).</summary>
    private float NextUnit()
    {
        ulong z = _rng += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (z >> 40) * (1f / (1 << 24));
    }

    private sealed class Descending : IComparer<float>
    {
        public static readonly Descending Instance = new();
        public int Compare(float x, float y) => y.CompareTo(x);
    }
}
