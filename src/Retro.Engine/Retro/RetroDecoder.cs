using System.Diagnostics;
using Retro.Engine.Checkpoints;

using Retro.Engine.Generation;

namespace Retro.Engine.Retro;

/// <summary>
/// The RETRO decoder (docs/model-format.md, "RETRO decoder"): token embeddings; per layer causal RoPE self-attention,
/// chunked cross-attention (CCA) to the encoded neighbours of the latest completed chunk at the layers in
/// <c>cca_layers</c>, and a GELU MLP, each pre-LayerNorm with a residual; a final LayerNorm and the LM head.
/// Neighbours of chunk u are encoded once, when its last token is fed, by the neighbour encoder conditioned on
/// H_u (the chunk's inputs of layer min(cca_layers)); their CCA keys and values are cached per CCA layer and serve
/// positions u·m+m−1 .. u·m+2m−2. Closed-book = no neighbours: every CCA term is exactly 0.
/// The model is immutable and shared; each sequence has its own <see cref="RetroRunState"/>.
/// </summary>
public sealed partial class RetroDecoder : IDisposable
{
    private readonly IDisposable? _owner;
    private readonly float _scale;
    private readonly float _encoderScale;

    /// <summary>
    /// Creates the decoder over bound <paramref name="weights"/>. <paramref name="owner"/> (e.g. the mapped checkpoint)
    /// is disposed with the decoder; pass null when the caller keeps the weights' memory alive.
    /// </summary>
    public RetroDecoder(RetroConfig config, RetroWeights weights, IBackend backend, IDisposable? owner = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(backend);
        Config = config.Validate();
        Weights = weights;
        Backend = backend;
        _owner = owner;
        _scale = 1f / MathF.Sqrt(config.HeadDim);
        _encoderScale = config.CcaLayers.Count > 0 ? 1f / MathF.Sqrt(config.EncoderHeadDim) : 0f;
    }

    /// <summary>The architecture.</summary>
    public RetroConfig Config { get; }

    /// <summary>The weights, as views on <see cref="Backend"/>.</summary>
    public RetroWeights Weights { get; }

    /// <summary>The backend running every op.</summary>
    public IBackend Backend { get; }

    /// <summary>
    /// Loads a model folder (<c>config.json</c> with <c>model_type</c> = <c>retro</c>, <c>model.safetensors</c> in
    /// F32, F16 or BF16). The checkpoint stays mapped until the decoder is disposed. A bad folder throws
    /// <see cref="CheckpointFormatException"/> naming the file and the tensor or key.
    /// </summary>
    public static RetroDecoder Load(string folder, IBackend backend)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(backend);
        string configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath)) throw new CheckpointFormatException(folder, null, "no config.json in the model folder");
        RetroConfig config;
        try { config = RetroConfig.Load(configPath); }
        catch (InvalidDataException e) { throw new CheckpointFormatException(configPath, null, e.Message, e); }

        var file = SafetensorsFile.Open(Path.Combine(folder, "model.safetensors"));
        try
        {
            var weights = RetroWeights.Load(file, config, backend);
            return new RetroDecoder(config, weights, backend, file);
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Binds an open <see cref="ModelFolder"/> (<c>model_type</c> = <c>retro</c>) on <paramref name="backend"/>. The folder
    /// keeps the checkpoint mapped and must outlive the decoder (the decoder does not dispose it).
    /// </summary>
    public static RetroDecoder Load(ModelFolder folder, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(folder);
        ArgumentNullException.ThrowIfNull(backend);
        if (folder.ModelType != "retro")
            throw new CheckpointFormatException(folder.ConfigPath, "model_type", $"is '{folder.ModelType}', expected 'retro'");
        RetroConfig config;
        try { config = RetroConfig.FromJson(folder.Config); }
        catch (InvalidDataException e) { throw new CheckpointFormatException(folder.ConfigPath, null, e.Message, e); }
        var weights = RetroWeights.Load(folder.Weights, config, backend);
        return new RetroDecoder(config, weights, backend, new WeightsOnly(weights));
    }

    private sealed class WeightsOnly(RetroWeights weights) : IDisposable
    {
        public void Dispose() => weights.Dispose();
    }

    /// <summary>
    /// Allocates a sequence's state: <paramref name="maxNeighbours"/> per chunk (default num_neighbours), a KV cache of
    /// <paramref name="maxSequenceLength"/> positions (default max_seq_len), and 1 or chunk_size rows of logits.
    /// </summary>
    public RetroRunState CreateState(int? maxNeighbours = null, int? maxSequenceLength = null, int logitRows = 1) =>
        new(Config, Backend, maxNeighbours ?? Config.NumNeighbours, maxSequenceLength ?? Config.MaxSeqLen, logitRows);

    /// <summary>Starts a sequence (see <see cref="CreateState"/> for the sizes).</summary>
    public RetroSession CreateSession(int? maxNeighbours = null, int? maxSequenceLength = null) =>
        new(this, CreateState(maxNeighbours, maxSequenceLength));

    /// <summary>
    /// Feeds <paramref name="tokens"/> at positions <c>state.Length</c>.. . Whenever a fed token completes chunk u,
    /// <paramref name="neighbours"/>(u) gives that chunk's neighbours (null or empty: none; a null provider means
    /// closed-book). Writes the logits of every fed position (n × V, row-major) into <paramref name="logits"/> when the
    /// state keeps chunk_size logit rows, else the last position's (V). Tokens are fed in segments of positions that
    /// share a chunk for CCA; when one throws (e.g. bad neighbours), earlier segments stay fed (see <c>state.Length</c>).
    /// </summary>
    public void Forward(RetroRunState state, ReadOnlySpan<int> tokens, Func<int, IReadOnlyList<int[]>?>? neighbours, Span<float> logits)
    {
        ArgumentNullException.ThrowIfNull(state);
        CheckState(state);
        if (tokens.IsEmpty) throw new ArgumentException("no tokens to feed", nameof(tokens));
        bool all = state.Logits.Rows > 1;
        int v = Config.VocabSize;
        long need = all ? (long)tokens.Length * v : v;
        if (logits.Length < need) throw new ArgumentException($"logits holds {logits.Length} values, {need} needed", nameof(logits));
        CheckTokens(tokens, state);

        int padded = PadPrefixLength(state, tokens);
        if (padded > 0)
        {
            RestorePadPrefix(state, padded);
            tokens = tokens[padded..];
        }
        FeedSegments(state, tokens, neighbours, logits, all);
    }

    /// <summary>The loop of <see cref="Forward"/> over validated input (no pad prefix).</summary>
    private void FeedSegments(RetroRunState state, ReadOnlySpan<int> tokens, Func<int, IReadOnlyList<int[]>?>? neighbours, Span<float> logits, bool all)
    {
        int v = Config.VocabSize, m = Config.ChunkSize;
        int done = 0;
        while (done < tokens.Length)
        {
            // a segment = positions sharing u(p); only its first position may complete a chunk
            int p0 = state.Length;
            int n = 1;
            while (done + n < tokens.Length && (p0 + n + 1) % m != 0) n++;
            IReadOnlyList<int[]>? nb = null;
            if ((p0 + 1) % m == 0 && neighbours is not null) nb = neighbours((p0 + 1) / m - 1);
            Segment(state, tokens.Slice(done, n), nb);
            if (all) state.HostLogits.AsSpan(0, n * v).CopyTo(logits.Slice(done * v, n * v));
            done += n;
        }
        if (!all) state.HostLogits.AsSpan(0, v).CopyTo(logits);
    }

    /// <summary>
    /// Feeds one segment: tokens at positions p0 = state.Length .. that share u(p) (only the first may complete a
    /// chunk; then <paramref name="neighbours"/> are that chunk's). Leaves the logits in state.HostLogits.
    /// </summary>
    internal void Segment(RetroRunState s, ReadOnlySpan<int> tokens, IReadOnlyList<int[]>? neighbours)
    {
        int n = tokens.Length, p0 = s.Length, m = Config.ChunkSize, d = Config.DModel;
        bool completes = (p0 + 1) % m == 0;
        int u = (p0 + 1) / m - 1; // the chunk every position of this segment attends to (−1: none)
        Debug.Assert(n <= s.SegmentCapacity && OnlyFirstMayComplete(p0, n));
        if (!completes && neighbours is { Count: > 0 })
            throw new ArgumentException($"neighbours given at position {p0}, which completes no chunk", nameof(neighbours));
        int k = completes ? PrepareNeighbours(s, u, neighbours) : 0;

        Span<int> pos = stackalloc int[n];
        for (int i = 0; i < n; i++) pos[i] = p0 + i;
        var b = Backend;
        var ids = s.Ids.SliceColumns(0, n);
        var positions = s.Positions.SliceColumns(0, n);
        b.Upload<int>(tokens, ids);
        b.Upload<int>(pos, positions);
        var ccaPositions = s.CcaPositions.SliceColumns(0, n);
        if (Config.CcaRope && u >= 0)
        {
            for (int i = 0; i < n; i++) pos[i] = CcaQueryPosition(p0 + i);
            b.Upload<int>(pos, ccaPositions);
        }

        var x = s.X.Slice(0, n);     // (n, D) residual stream
        var xb = s.Xb.Slice(0, n);   // (n, D)
        b.Embedding(Weights.TokEmbeddings, ids, x);

        for (int i = 0; i < Config.NLayers; i++)
        {
            var w = Weights.Layers[i];
            if (i == Config.FirstCcaLayer) RecordChunkInputs(s, x, p0, completes, k);

            // 1. h = h + o_proj(SelfAttn(attn_norm(h))), causal, RoPE on q and k; k and v go to the cache
            b.LayerNorm(x, w.AttnNormWeight, w.AttnNormBias, Config.LayerNormEps, xb);
            var qkv = s.Qkv[i].Slice(p0, n); // (n, 3D) rows of the cache: q | k | v
            Project(xb, w, qkv);
            b.Rope(qkv.SliceColumns(0, 2 * d), positions, 2 * Config.NHeads, Config.HeadDim, Config.RopeTheta); // q and k
            var q = qkv.SliceColumns(0, d);
            var att = s.AttnOut.Slice(0, n);
            b.Attention(q, s.KeyCache[i], s.ValueCache[i], default, att,
                new AttentionShape(1, n, p0 + n, s.MaxSequenceLength, Config.NHeads, Config.HeadDim, _scale, Causal: true, QueryOffset: p0));
            b.MatMul(att, w.Wo, default, x, MatMulEpilogue.Accumulate);

            // 2. h = h + o_proj(CCA(cca_norm(h), E_u)); nothing when u < 0 or chunk u has no neighbours
            if (w.Cca is { } cca && u >= 0 && s.CachedNeighbours > 0)
            {
                Debug.Assert(s.CachedChunk == u);
                int ci = Config.CcaIndex(i);
                int keys = s.CachedRows;
                b.LayerNorm(x, cca.NormWeight, cca.NormBias, Config.LayerNormEps, xb);
                var cq = s.Q.Slice(0, n);
                b.MatMul(xb, cca.Wq, default, cq);
                if (Config.CcaRope) b.Rope(cq, ccaPositions, Config.NHeads, Config.HeadDim, Config.RopeTheta);
                b.Attention(cq, s.CcaKeys[ci], s.CcaValues[ci], s.EncMask, att,
                    new AttentionShape(1, n, keys, s.CcaKeys[ci].Rows, Config.NHeads, Config.HeadDim, _scale), cca.Sink);
                b.MatMul(att, cca.Wo, default, x, MatMulEpilogue.Accumulate);
            }

            // 3. h = h + fc_out(gelu(fc_in(mlp_norm(h))))
            b.LayerNorm(x, w.MlpNormWeight, w.MlpNormBias, Config.LayerNormEps, xb);
            var hidden = s.Hidden.Slice(0, n);
            b.MatMul(xb, w.FcIn, default, hidden, MatMulEpilogue.Gelu);
            b.MatMul(hidden, w.FcOut, default, x, MatMulEpilogue.Accumulate);
        }

        // logits = norm_f(h) · lm_headᵀ, for every position or the last one
        int rows = s.Logits.Rows > 1 ? n : 1;
        var last = x.Slice(n - rows, rows);
        var normed = xb.Slice(0, rows);
        b.LayerNorm(last, Weights.NormFWeight, Weights.NormFBias, Config.LayerNormEps, normed);
        var logits = s.Logits.Slice(0, rows);
        b.MatMul(normed, Weights.LmHead, default, logits);
        b.Download<float>(logits, s.HostLogits.AsSpan(0, rows * Config.VocabSize));
        s.Length = p0 + n;
    }

    /// <summary>
    /// The RoPE position of decoder position <paramref name="p"/> (≥ m−1) as a CCA query: it is the ((p+1) mod m)-th
    /// position of its shifted chunk (the last token of chunk u and the first m−1 of chunk u+1), at m−1 + that, so
    /// that it lines up with the neighbour's continuation (keys at 0..r−1).
    /// </summary>
    internal int CcaQueryPosition(int p) => (p + 1) % Config.ChunkSize + Config.ChunkSize - 1;

    private bool OnlyFirstMayComplete(int p0, int n)
    {
        for (int i = 1; i < n; i++) if ((p0 + i + 1) % Config.ChunkSize == 0) return false;
        return true;
    }

    /// <summary>q | k | v projections of <paramref name="xb"/> into the columns of <paramref name="qkv"/> (rows × 3D), fused when the weights are.</summary>
    private void Project(Tensor xb, RetroWeights.LayerWeights w, Tensor qkv)
    {
        if (!w.Wqkv.IsEmpty)
        {
            Backend.MatMul(xb, w.Wqkv, default, qkv);
            return;
        }
        int d = Config.DModel;
        Backend.MatMul(xb, w.Wq, default, qkv.SliceColumns(0, d));
        Backend.MatMul(xb, w.Wk, default, qkv.SliceColumns(d, d));
        Backend.MatMul(xb, w.Wv, default, qkv.SliceColumns(2 * d, d));
    }

    /// <summary>
    /// Saves the segment's inputs of layer min(cca_layers) as rows p mod m of H; when the segment's first position
    /// completes chunk u, encodes chunk u's prepared neighbours with H = H_u before later rows overwrite it.
    /// </summary>
    private void RecordChunkInputs(RetroRunState s, Tensor x, int p0, bool completes, int neighbours)
    {
        int n = x.Rows, m = Config.ChunkSize;
        if (!completes)
        {
            Backend.Copy(x, s.ChunkInputs.Slice(p0 % m, n));
            return;
        }
        Backend.Copy(x.Slice(0, 1), s.ChunkInputs.Slice(m - 1, 1));
        EncodeNeighbours(s, (p0 + 1) / m - 1, neighbours);
        if (n > 1) Backend.Copy(x.Slice(1, n - 1), s.ChunkInputs.Slice(0, n - 1));
    }

    /// <summary>
    /// Checks chunk u's neighbours and writes their ids, key mask and positions into the state's host scratch, each
    /// neighbour up to its last token, one after another (<c>HostNeighbourStarts</c>); returns k', the number of
    /// non-empty neighbours. Negative ids are padding (masked; trailing padding takes no row: no row of another
    /// neighbour, of the chunk or of the decoder can see it, so it is not encoded); neighbours longer than r are
    /// truncated; a neighbour with no token is skipped. Nothing on the backend changes, so a bad list leaves the
    /// sequence as it was.
    /// </summary>
    private int PrepareNeighbours(RetroRunState s, int u, IReadOnlyList<int[]>? neighbours)
    {
        if (neighbours is null || neighbours.Count == 0 || Config.CcaLayers.Count == 0) return 0;
        int r = Config.NeighbourLen, k = 0, row = 0;
        var ids = s.HostEncIds;
        var mask = s.HostEncMask;
        var positions = s.HostEncPositions;
        var starts = s.HostNeighbourStarts;
        for (int j = 0; j < neighbours.Count; j++)
        {
            int last = DecoderInput.LastToken(neighbours[j], j, u, r, Config.VocabSize);
            if (last < 0) continue;
            if (k == s.MaxNeighbours) throw DecoderInput.TooManyNeighbours(u, s.MaxNeighbours);
            var tokens = neighbours[j];
            starts[k] = row;
            for (int t = 0; t <= last; t++, row++)
            {
                int id = tokens[t];
                ids[row] = id < 0 ? 0 : id;
                mask[row] = id < 0 ? 0 : 1;
                positions[row] = t;
            }
            k++;
        }
        starts[k] = row;
        return k;
    }

    /// <summary>
    /// The neighbour encoder for chunk u over the k prepared neighbours: E_u[j] = norm_f(encoder layers(
    /// tok_embeddings[neighbour j], H_u)), then cca.k_proj(E_u), cca.v_proj(E_u) per CCA layer into the cache.
    /// </summary>
    private void EncodeNeighbours(RetroRunState s, int u, int k)
    {
        s.CachedChunk = u;
        s.CachedNeighbours = 0;
        s.CachedRows = 0;
        if (k == 0) return;
        var starts = s.HostNeighbourStarts;

        var b = Backend;
        int rows = starts[k], d = Config.DModel, m = Config.ChunkSize, heads = Config.EncoderNHeads, hd = Config.EncoderHeadDim;
        var encIds = s.EncIds.SliceColumns(0, rows);
        var encMask = s.EncMask.SliceColumns(0, rows);
        var positions = s.EncPositions.SliceColumns(0, rows);
        b.Upload<int>(s.HostEncIds.AsSpan(0, rows), encIds);
        b.Upload<int>(s.HostEncMask.AsSpan(0, rows), encMask);
        b.Upload<int>(s.HostEncPositions.AsSpan(0, rows), positions);

        var e = s.EncX.Slice(0, rows);     // (rows, D): the neighbours' tokens one after another
        var eb = s.EncXb.Slice(0, rows);
        var q = s.EncQ.Slice(0, rows);
        var kk = s.EncK.Slice(0, rows);
        var vv = s.EncV.Slice(0, rows);
        var att = s.EncAttnOut.Slice(0, rows);
        var hidden = s.EncHidden.Slice(0, rows);
        var h = s.ChunkInputs;           // (m, D) H_u, used as is
        var items = s.EncAttention;
        b.Embedding(Weights.TokEmbeddings, encIds, e);
        foreach (var w in Weights.EncoderLayers)
        {
            // 1. bidirectional self-attention within each neighbour, RoPE positions 0.., padding keys masked
            b.LayerNorm(e, w.AttnNormWeight, w.AttnNormBias, Config.LayerNormEps, eb);
            b.MatMul(eb, w.Wq, default, q);
            b.MatMul(eb, w.Wk, default, kk);
            b.MatMul(eb, w.Wv, default, vv);
            b.Rope(q, positions, heads, hd, Config.RopeTheta);
            b.Rope(kk, positions, heads, hd, Config.RopeTheta);
            for (int j = 0; j < k; j++)
            {
                int r0 = starts[j], len = starts[j + 1] - r0;
                items[j] = new AttentionItem(q.Slice(r0, len), kk.Slice(r0, len), vv.Slice(r0, len), encMask.SliceColumns(r0, len), att.Slice(r0, len),
                    new AttentionShape(1, len, len, len, heads, hd, _encoderScale));
            }
            b.AttentionBatch(items.AsSpan(0, k));
            b.MatMul(att, w.Wo, default, e, MatMulEpilogue.Accumulate);

            // 2. cross-attention to H_u: queries from the neighbours, keys/values from the chunk's 64 states, no mask
            b.LayerNorm(e, w.CrossNormWeight, w.CrossNormBias, Config.LayerNormEps, eb);
            b.MatMul(eb, w.CrossWq, default, q);
            b.MatMul(h, w.CrossWk, default, s.ChunkKeys);
            b.MatMul(h, w.CrossWv, default, s.ChunkValues);
            if (Config.CcaRope)
            {
                // neighbour token t at position t, chunk state j at j
                b.Rope(q, positions, heads, hd, Config.RopeTheta);
                b.Rope(s.ChunkKeys, s.ChunkPositions, heads, hd, Config.RopeTheta);
            }
            b.Attention(q, s.ChunkKeys, s.ChunkValues, default, att, new AttentionShape(1, rows, m, m, heads, hd, _encoderScale));
            b.MatMul(att, w.CrossWo, default, e, MatMulEpilogue.Accumulate);

            // 3. MLP
            b.LayerNorm(e, w.MlpNormWeight, w.MlpNormBias, Config.LayerNormEps, eb);
            b.MatMul(eb, w.FcIn, default, hidden, MatMulEpilogue.Gelu);
            b.MatMul(hidden, w.FcOut, default, e, MatMulEpilogue.Accumulate);
        }
        var encoded = s.Encoded.Slice(0, rows);
        b.LayerNorm(e, Weights.EncoderNormFWeight, Weights.EncoderNormFBias, Config.LayerNormEps, encoded);

        // CCA keys and values of E_u, once per chunk and CCA layer
        for (int c = 0; c < Config.CcaLayers.Count; c++)
        {
            var cca = Weights.Layers[Config.CcaLayers[c]].Cca!;
            var keys = s.CcaKeys[c].Slice(0, rows);
            b.MatMul(encoded, cca.Wk, default, keys);
            if (Config.CcaRope) b.Rope(keys, positions, Config.NHeads, Config.HeadDim, Config.RopeTheta); // each neighbour's 0..
            b.MatMul(encoded, cca.Wv, default, s.CcaValues[c].Slice(0, rows));
        }
        s.CachedNeighbours = k;
        s.CachedRows = rows;
        Interlocked.Add(ref _encodedRows, rows);
        Interlocked.Add(ref _encodedNeighbours, k);
    }

    private long _encodedRows, _encodedNeighbours;

    /// <summary>Neighbours encoded so far over all sequences, and the token rows they took (each up to its last token).</summary>
    public (long Neighbours, long Rows) EncodedNeighbours => (Interlocked.Read(ref _encodedNeighbours), Interlocked.Read(ref _encodedRows));

    /// <summary>
    /// Copies E of the cached chunk (neighbours × r × D, padding rows set to 0 as the reference defines them) into
    /// <paramref name="destination"/>; returns the number of neighbours encoded. For tests and diagnostics.
    /// </summary>
    internal int DownloadEncoded(RetroRunState s, Span<float> destination)
    {
        int k = s.CachedNeighbours, r = Config.NeighbourLen, d = Config.DModel;
        if (k == 0) return 0;
        var rows = new float[s.CachedRows * d];
        Backend.Download<float>(s.Encoded.Slice(0, s.CachedRows), rows);
        destination[..(k * r * d)].Clear(); // padding rows, trailing ones never encoded, are 0
        for (int j = 0; j < k; j++)
        {
            int r0 = s.HostNeighbourStarts[j], len = s.HostNeighbourStarts[j + 1] - r0;
            for (int t = 0; t < len; t++)
                if (s.HostEncMask[r0 + t] != 0) rows.AsSpan((r0 + t) * d, d).CopyTo(destination.Slice((j * r + t) * d, d));
        }
        return k;
    }

    private void CheckState(RetroRunState state)
    {
        if (!ReferenceEquals(state.Config, Config) && state.Config != Config)
            throw new ArgumentException("the state was made for another model", nameof(state));
        if (!ReferenceEquals(state.Backend, Backend))
            throw new ArgumentException("the state lives on another backend", nameof(state));
    }

    private void CheckTokens(ReadOnlySpan<int> tokens, RetroRunState state) =>
        DecoderInput.CheckTokens(tokens, state.Length, state.MaxSequenceLength, Config.VocabSize, owner: "state");

    /// <summary>Disposes the checkpoint the weights map (when the decoder owns it) and the weights' own copies.</summary>
    public void Dispose()
    {
        lock (_padGate)
        {
            _padPrefix?.Dispose();
            _padPrefix = null;
        }
        if (_owner is null) return;
        Weights.Dispose();
        _owner.Dispose();
    }
}
