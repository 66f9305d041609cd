namespace Retro.Engine.Retro;

public sealed partial class RetroDecoder
{
    private readonly object _padGate = new();
    private PadPrefix? _padPrefix;
    private bool _padPrefixFailed;

    /// <summary>
    /// True (default): a sequence that starts with pad tokens (a question left-padded to fill chunk 0, docs/architecture.md)
    /// gets their keys, values and chunk inputs copied from a prefix computed once per decoder, instead of
    /// recomputing them. With causal attention a position's states depend only on the tokens up to it, so the
    /// leading pads' states are the same for every question: prefix caching (as LLM servers share a system prompt's
    /// KV cache), exact up to float summation order. Only the first chunk_size − 1 positions (never the token
    /// completing chunk 0) and never the last fed token (its logits are wanted). False computes every position.
    /// </summary>
    public bool ReusePadPrefix { get; set; } = true;

    /// <summary>Token id a question is left-padded with: pad_token_id, else eos_token_id (−1: none).</summary>
    public int PadId => Config.PadTokenId >= 0 ? Config.PadTokenId : Config.EosTokenId;

    /// <summary>
    /// How many of <paramref name="tokens"/>' leading positions a fresh sequence can take from the pad prefix: the run
    /// of pad tokens at its start, at most chunk_size − 1 and never the last token. 0 when the state is not at
    /// position 0, when every position's logits are wanted, or when the prefix is off.
    /// </summary>
    internal int PadPrefixLength(RetroRunState s, ReadOnlySpan<int> tokens)
    {
        if (!ReusePadPrefix || s.Length != 0 || s.Logits.Rows != 1 || PadId < 0 || _padPrefixFailed) return 0;
        int limit = Math.Min(tokens.Length - 1, Config.ChunkSize - 1), c = 0;
        while (c < limit && tokens[c] == PadId) c++;
        return c;
    }

    /// <summary>Writes the pad prefix's first <paramref name="count"/> positions into a fresh state and advances it.</summary>
    internal void RestorePadPrefix(RetroRunState s, int count)
    {
        if (count == 0) return;
        var prefix = EnsurePadPrefix();
        int d = Config.DModel;
        var b = Backend;
        for (int i = 0; i < Config.NLayers; i++)
            b.Copy(prefix.KeyValues[i].Slice(0, count), s.Qkv[i].Slice(0, count).SliceColumns(d, 2 * d));
        if (Config.CcaLayers.Count > 0) b.Copy(prefix.ChunkInputs.Slice(0, count), s.ChunkInputs.Slice(0, count));
        s.Length = count;
        Interlocked.Add(ref _reusedPadPositions, count);
    }

    private long _reusedPadPositions;

    /// <summary>Positions taken from the pad prefix so far, over all sequences.</summary>
    public long ReusedPadPositions => Interlocked.Read(ref _reusedPadPositions);

    /// <summary>Computes the pad prefix (positions 0 .. chunk_size − 2, all pads) once: the states a sequence leaves in its caches.</summary>
    private PadPrefix EnsurePadPrefix()
    {
        if (Volatile.Read(ref _padPrefix) is { } ready) return ready;
        lock (_padGate)
        {
            if (_padPrefix is not null) return _padPrefix;
            int m = Config.ChunkSize, d = Config.DModel, n = m - 1;
            var buffers = new List<BackendBuffer>();
            try
            {
                using var state = new RetroRunState(Config, Backend, Config.NumNeighbours, Math.Max(m, 1));
                var pads = new int[n];
                Array.Fill(pads, PadId);
                var logits = new float[Config.VocabSize];
                FeedSegments(state, pads, null, logits, all: false);
                Tensor Keep(int rows, int cols)
                {
                    var buffer = Backend.Allocate((long)rows * cols * sizeof(float));
                    buffers.Add(buffer);
                    return buffer.AsTensor(DType.F32, rows, cols);
                }
                var kv = new Tensor[Config.NLayers];
                for (int i = 0; i < kv.Length; i++)
                {
                    kv[i] = Keep(n, 2 * d);
                    Backend.Copy(state.Qkv[i].Slice(0, n).SliceColumns(d, 2 * d), kv[i]);
                }
                var h = default(Tensor);
                if (Config.CcaLayers.Count > 0)
                {
                    h = Keep(n, d);
                    Backend.Copy(state.ChunkInputs.Slice(0, n), h);
                }
                Backend.Synchronize();
                _padPrefix = new PadPrefix(kv, h, buffers);
                return _padPrefix;
            }
            catch
            {
                foreach (var buffer in buffers) buffer.Dispose();
                _padPrefixFailed = true;
                throw;
            }
        }
    }

    /// <summary>The cached states of the all-pad positions 0 .. chunk_size − 2.</summary>
    private sealed class PadPrefix(Tensor[] keyValues, Tensor chunkInputs, List<BackendBuffer> buffers) : IDisposable
    {
        /// <summary>Per layer (m − 1, 2D): k | v of each position, RoPE applied, as the KV cache holds them.</summary>
        public Tensor[] KeyValues { get; } = keyValues;

        /// <summary>(m − 1, D): inputs of layer min(cca_layers), the rows of H_0 (empty without CCA).</summary>
        public Tensor ChunkInputs { get; } = chunkInputs;

        public void Dispose()
        {
            foreach (var b in buffers) b.Dispose();
            buffers.Clear();
        }
    }
}
