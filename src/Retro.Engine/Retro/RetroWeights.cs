using Retro.Engine.Checkpoints;

namespace Retro.Engine.Retro;

/// <summary>
/// Views of a RETRO checkpoint's tensors on a backend (docs/model-format.md names; D = d_model, F = d_ff,
/// Fe = encoder_d_ff, V = vocab). Weights keep their stored type (F32, F16 or BF16); LayerNorm parameters are 1 × D.
/// The checkpoint (or test buffers) must outlive it; it owns only F32 copies of non-F32 LayerNorm parameters
/// (backends normalise with F32 gamma and beta) and the fused q|k|v matrices of <see cref="Load"/>, freed by
/// <see cref="Dispose"/>.
/// </summary>
public sealed class RetroWeights : IDisposable
{
    private readonly List<BackendBuffer> _owned = [];
    private readonly List<IDisposable> _prepared = [];

    /// <summary>tok_embeddings.weight (V, D): token embeddings of the decoder and the neighbour encoder.</summary>
    public required Tensor TokEmbeddings { get; init; }

    /// <summary>Decoder layers, n_layers of them.</summary>
    public required LayerWeights[] Layers { get; init; }

    /// <summary>norm_f.weight (D).</summary>
    public required Tensor NormFWeight { get; init; }

    /// <summary>norm_f.bias (D).</summary>
    public required Tensor NormFBias { get; init; }

    /// <summary>lm_head.weight (V, D): tok_embeddings when tied.</summary>
    public required Tensor LmHead { get; init; }

    /// <summary>Neighbour encoder layers, encoder_layers of them (none when the model has no CCA layer).</summary>
    public required EncoderLayerWeights[] EncoderLayers { get; init; }

    /// <summary>encoder.norm_f.weight (D); empty without CCA layers.</summary>
    public required Tensor EncoderNormFWeight { get; init; }

    /// <summary>encoder.norm_f.bias (D); empty without CCA layers.</summary>
    public required Tensor EncoderNormFBias { get; init; }

    /// <summary>Bytes of weights one decoding step reads (every decoder matrix except CCA k/v, plus lm_head).</summary>
    public long BytesPerStep()
    {
        long bytes = Bytes(LmHead) + Bytes(NormFWeight) + Bytes(NormFBias);
        foreach (var l in Layers)
        {
            bytes += Bytes(l.AttnNormWeight) + Bytes(l.AttnNormBias) + Bytes(l.Wo);
            bytes += l.Wqkv.IsEmpty ? Bytes(l.Wq) + Bytes(l.Wk) + Bytes(l.Wv) : Bytes(l.Wqkv);
            bytes += Bytes(l.MlpNormWeight) + Bytes(l.MlpNormBias) + Bytes(l.FcIn) + Bytes(l.FcOut);
            if (l.Cca is { } c) bytes += Bytes(c.NormWeight) + Bytes(c.NormBias) + Bytes(c.Wq) + Bytes(c.Wo);
        }
        return bytes;
    }

    /// <summary>[q_proj; k_proj; v_proj] of <paramref name="prefix"/> copied into one (3D, D) backend buffer of their stored type.</summary>
    private static Tensor Fuse(SafetensorsFile file, string prefix, IBackend backend, List<BackendBuffer> owned)
    {
        var q = file.Get(prefix + "q_proj.weight");
        var k = file.Get(prefix + "k_proj.weight");
        var v = file.Get(prefix + "v_proj.weight");
        if (k.Type != q.Type || v.Type != q.Type) return default; // mixed types: keep the three products
        var buffer = backend.Allocate(q.ByteLength + k.ByteLength + v.ByteLength);
        owned.Add(buffer);
        int d = q.Columns;
        var fused = buffer.AsTensor(q.Type, 3 * d, d);
        int part = 0;
        foreach (var t in (ReadOnlySpan<CheckpointTensor>)[q, k, v])
        {
            var rows = fused.Slice(part++ * d, d);
            if (t.Type == DType.F32) backend.Upload(t.AsSpan<float>(), rows);
            else backend.Upload(t.AsSpan<ushort>(), rows); // F16 / BF16 bits as stored
        }
        return fused;
    }

    /// <summary>
    /// Declares every matrix the decoder multiplies by (<see cref="IBackend.PrepareWeight"/>), so that the backend may
    /// keep its own layout of each; the handles are released by <see cref="Dispose"/>. <see cref="Load"/> calls it; a
    /// second call does nothing.
    /// </summary>
    public void PrepareMatrices(IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        if (_prepared.Count > 0) return;
        void Prepare(Tensor t)
        {
            if (!t.IsEmpty) _prepared.Add(backend.PrepareWeight(t));
        }
        foreach (var l in Layers)
        {
            if (!l.Wqkv.IsEmpty) Prepare(l.Wqkv);
            else { Prepare(l.Wq); Prepare(l.Wk); Prepare(l.Wv); }
            Prepare(l.Wo);
            Prepare(l.FcIn);
            Prepare(l.FcOut);
            if (l.Cca is { } c) { Prepare(c.Wq); Prepare(c.Wk); Prepare(c.Wv); Prepare(c.Wo); }
        }
        foreach (var e in EncoderLayers)
        {
            Prepare(e.Wq); Prepare(e.Wk); Prepare(e.Wv); Prepare(e.Wo);
            Prepare(e.CrossWq); Prepare(e.CrossWk); Prepare(e.CrossWv); Prepare(e.CrossWo);
            Prepare(e.FcIn); Prepare(e.FcOut);
        }
        Prepare(LmHead);
    }

    /// <summary>Releases the prepared matrices and frees the copies this instance made; the views must not be used afterwards.</summary>
    public void Dispose()
    {
        foreach (var p in _prepared) p.Dispose();
        _prepared.Clear();
        foreach (var b in _owned) b.Dispose();
        _owned.Clear();
    }

    private static long Bytes(Tensor t) => t.IsEmpty ? 0 : t.ElementCount * DTypes.SizeOf(t.Type);

    /// <summary>
    /// Binds every tensor of <paramref name="config"/>'s architecture through <paramref name="lookup"/>
    /// (name, expected rows, expected columns) → view. The lookup validates or throws; this method checks the
    /// returned shapes again.
    /// </summary>
    public static RetroWeights Bind(RetroConfig config, Func<string, int, int, Tensor> lookup)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(lookup);
        int d = config.DModel, f = config.DFf, v = config.VocabSize;
        Tensor Get(string name, int rows, int cols)
        {
            var t = lookup(name, rows, cols);
            if (t.Rows != rows || t.Columns != cols)
                throw new ArgumentException($"tensor '{name}' is {t.Rows}x{t.Columns}, expected {rows}x{cols}");
            if (!DTypes.IsFloat(t.Type)) throw new ArgumentException($"tensor '{name}' has type {t.Type}, expected F32, F16 or BF16");
            return t;
        }

        var layers = new LayerWeights[config.NLayers];
        for (int i = 0; i < layers.Length; i++)
        {
            string p = $"layers.{i}.";
            CcaWeights? cca = null;
            if (config.IsCcaLayer(i))
            {
                cca = new CcaWeights
                {
                    NormWeight = Get(p + "cca_norm.weight", 1, d),
                    NormBias = Get(p + "cca_norm.bias", 1, d),
                    Wq = Get(p + "cca.q_proj.weight", d, d),
                    Wk = Get(p + "cca.k_proj.weight", d, d),
                    Wv = Get(p + "cca.v_proj.weight", d, d),
                    Wo = Get(p + "cca.o_proj.weight", d, d),
                    Sink = config.CcaSink ? Get(p + "cca.sink", 1, config.NHeads) : default,
                };
            }
            layers[i] = new LayerWeights
            {
                AttnNormWeight = Get(p + "attn_norm.weight", 1, d),
                AttnNormBias = Get(p + "attn_norm.bias", 1, d),
                Wq = Get(p + "attn.q_proj.weight", d, d),
                Wk = Get(p + "attn.k_proj.weight", d, d),
                Wv = Get(p + "attn.v_proj.weight", d, d),
                Wo = Get(p + "attn.o_proj.weight", d, d),
                Cca = cca,
                MlpNormWeight = Get(p + "mlp_norm.weight", 1, d),
                MlpNormBias = Get(p + "mlp_norm.bias", 1, d),
                FcIn = Get(p + "mlp.fc_in.weight", f, d),
                FcOut = Get(p + "mlp.fc_out.weight", d, f),
            };
        }

        bool hasEncoder = config.CcaLayers.Count > 0;
        var encoder = new EncoderLayerWeights[hasEncoder ? config.EncoderLayers : 0];
        int fe = config.EncoderDFf;
        for (int j = 0; j < encoder.Length; j++)
        {
            string p = $"encoder.layers.{j}.";
            encoder[j] = new EncoderLayerWeights
            {
                AttnNormWeight = Get(p + "attn_norm.weight", 1, d),
                AttnNormBias = Get(p + "attn_norm.bias", 1, d),
                Wq = Get(p + "attn.q_proj.weight", d, d),
                Wk = Get(p + "attn.k_proj.weight", d, d),
                Wv = Get(p + "attn.v_proj.weight", d, d),
                Wo = Get(p + "attn.o_proj.weight", d, d),
                CrossNormWeight = Get(p + "cross_norm.weight", 1, d),
                CrossNormBias = Get(p + "cross_norm.bias", 1, d),
                CrossWq = Get(p + "cross.q_proj.weight", d, d),
                CrossWk = Get(p + "cross.k_proj.weight", d, d),
                CrossWv = Get(p + "cross.v_proj.weight", d, d),
                CrossWo = Get(p + "cross.o_proj.weight", d, d),
                MlpNormWeight = Get(p + "mlp_norm.weight", 1, d),
                MlpNormBias = Get(p + "mlp_norm.bias", 1, d),
                FcIn = Get(p + "mlp.fc_in.weight", fe, d),
                FcOut = Get(p + "mlp.fc_out.weight", d, fe),
            };
        }

        var tok = Get("tok_embeddings.weight", v, d);
        return new RetroWeights
        {
            TokEmbeddings = tok,
            Layers = layers,
            NormFWeight = Get("norm_f.weight", 1, d),
            NormFBias = Get("norm_f.bias", 1, d),
            LmHead = config.TieEmbeddings ? tok : Get("lm_head.weight", v, d),
            EncoderLayers = encoder,
            EncoderNormFWeight = hasEncoder ? Get("encoder.norm_f.weight", 1, d) : default,
            EncoderNormFBias = hasEncoder ? Get("encoder.norm_f.bias", 1, d) : default,
        };
    }

    /// <summary>
    /// Binds the tensors of an open checkpoint on <paramref name="backend"/>, checking every name and shape; a missing,
    /// misshapen, non-float or unknown tensor throws <see cref="CheckpointFormatException"/> naming it.
    /// </summary>
    public static RetroWeights Load(SafetensorsFile file, RetroConfig config, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(backend);
        var used = new HashSet<string>(StringComparer.Ordinal);
        var owned = new List<BackendBuffer>();
        RetroWeights weights;
        try
        {
            weights = Bind(config, (name, rows, cols) =>
            {
                var t = file.Get(name);
                bool vector = rows == 1;
                bool shapeOk = vector ? t.HasShape([cols]) : t.HasShape([rows, cols]);
                if (!shapeOk)
                    throw new CheckpointFormatException(file.Path, name, $"shape {t.ShapeText}, expected {(vector ? $"({cols})" : $"({rows}, {cols})")}");
                if (!DTypes.IsFloat(t.Type))
                    throw new CheckpointFormatException(file.Path, name, $"dtype {t.Type}, expected F32, F16 or BF16");
                used.Add(name);
                var view = backend.Weights(t).Reshape(rows, cols);
                if (!vector || view.Type == DType.F32) return view;
                var copy = backend.Allocate((long)cols * sizeof(float)); // LayerNorm gamma/beta as F32
                owned.Add(copy);
                var f32 = copy.AsTensor(DType.F32, 1, cols);
                backend.Copy(view, f32);
                return f32;
            });
            for (int i = 0; i < config.NLayers; i++) weights.Layers[i].Wqkv = Fuse(file, $"layers.{i}.attn.", backend, owned);
            foreach (var t in file.Tensors)
            {
                if (!used.Contains(t.Name))
                    throw new CheckpointFormatException(file.Path, t.Name, "unknown tensor for a RETRO decoder with this config.json");
            }
        }
        catch
        {
            foreach (var b in owned) b.Dispose();
            throw;
        }
        weights._owned.AddRange(owned);
        weights.PrepareMatrices(backend);
        return weights;
    }

    /// <summary>One decoder layer's weights (D = d_model, F = d_ff).</summary>
    public sealed class LayerWeights
    {
        /// <summary>attn_norm.weight (D).</summary>
        public required Tensor AttnNormWeight { get; init; }
        /// <summary>attn_norm.bias (D).</summary>
        public required Tensor AttnNormBias { get; init; }
        /// <summary>attn.q_proj.weight (D, D).</summary>
        public required Tensor Wq { get; init; }
        /// <summary>attn.k_proj.weight (D, D).</summary>
        public required Tensor Wk { get; init; }
        /// <summary>attn.v_proj.weight (D, D).</summary>
        public required Tensor Wv { get; init; }
        /// <summary>attn.o_proj.weight (D, D).</summary>
        public required Tensor Wo { get; init; }
        /// <summary>
        /// (3D, D) = [q_proj; k_proj; v_proj] in one buffer of the stored type, made at load so that one matrix product
        /// projects all three; empty when the weights were bound without fusing (then Wq, Wk, Wv are used).
        /// </summary>
        public Tensor Wqkv { get; internal set; }
        /// <summary>Chunked cross-attention of this layer, or null when the layer has none.</summary>
        public required CcaWeights? Cca { get; init; }
        /// <summary>mlp_norm.weight (D).</summary>
        public required Tensor MlpNormWeight { get; init; }
        /// <summary>mlp_norm.bias (D).</summary>
        public required Tensor MlpNormBias { get; init; }
        /// <summary>mlp.fc_in.weight (F, D).</summary>
        public required Tensor FcIn { get; init; }
        /// <summary>mlp.fc_out.weight (D, F).</summary>
        public required Tensor FcOut { get; init; }
    }

    /// <summary>Chunked cross-attention weights of one decoder layer (D = d_model).</summary>
    public sealed class CcaWeights
    {
        /// <summary>cca_norm.weight (D).</summary>
        public required Tensor NormWeight { get; init; }
        /// <summary>cca_norm.bias (D).</summary>
        public required Tensor NormBias { get; init; }
        /// <summary>cca.q_proj.weight (D, D).</summary>
        public required Tensor Wq { get; init; }
        /// <summary>cca.k_proj.weight (D, D): applied to E_u once per chunk.</summary>
        public required Tensor Wk { get; init; }
        /// <summary>cca.v_proj.weight (D, D): applied to E_u once per chunk.</summary>
        public required Tensor Wv { get; init; }
        /// <summary>cca.o_proj.weight (D, D).</summary>
        public required Tensor Wo { get; init; }
        /// <summary>cca.sink (n_heads) as F32: each head's sink logit (config <c>cca_sink</c>); empty without sinks.</summary>
        public Tensor Sink { get; init; }
    }

    /// <summary>One neighbour-encoder layer's weights (D = d_model, Fe = encoder_d_ff).</summary>
    public sealed class EncoderLayerWeights
    {
        /// <summary>attn_norm.weight (D).</summary>
        public required Tensor AttnNormWeight { get; init; }
        /// <summary>attn_norm.bias (D).</summary>
        public required Tensor AttnNormBias { get; init; }
        /// <summary>attn.q_proj.weight (D, D).</summary>
        public required Tensor Wq { get; init; }
        /// <summary>attn.k_proj.weight (D, D).</summary>
        public required Tensor Wk { get; init; }
        /// <summary>attn.v_proj.weight (D, D).</summary>
        public required Tensor Wv { get; init; }
        /// <summary>attn.o_proj.weight (D, D).</summary>
        public required Tensor Wo { get; init; }
        /// <summary>cross_norm.weight (D).</summary>
        public required Tensor CrossNormWeight { get; init; }
        /// <summary>cross_norm.bias (D).</summary>
        public required Tensor CrossNormBias { get; init; }
        /// <summary>cross.q_proj.weight (D, D).</summary>
        public required Tensor CrossWq { get; init; }
        /// <summary>cross.k_proj.weight (D, D): applied to H_u.</summary>
        public required Tensor CrossWk { get; init; }
        /// <summary>cross.v_proj.weight (D, D): applied to H_u.</summary>
        public required Tensor CrossWv { get; init; }
        /// <summary>cross.o_proj.weight (D, D).</summary>
        public required Tensor CrossWo { get; init; }
        /// <summary>mlp_norm.weight (D).</summary>
        public required Tensor MlpNormWeight { get; init; }
        /// <summary>mlp_norm.bias (D).</summary>
        public required Tensor MlpNormBias { get; init; }
        /// <summary>mlp.fc_in.weight (Fe, D).</summary>
        public required Tensor FcIn { get; init; }
        /// <summary>mlp.fc_out.weight (D, Fe).</summary>
        public required Tensor FcOut { get; init; }
    }
}
