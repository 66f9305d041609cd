using Retro.Engine.Checkpoints;

namespace Retro.Engine.Bert;

/// <summary>
/// BERT forward pass on an <see cref="IBackend"/>, batched with right padding: embeddings, post-LayerNorm layers
/// (self-attention with a key padding mask, GELU feed-forward), then bi-encoder pooling or the cross-encoder head.
/// Holds no per-pass state (that is <see cref="BertRunState"/>), so one encoder serves many threads.
/// </summary>
public sealed class BertEncoder : IDisposable
{
    private readonly ModelFolder? _folder;

    /// <summary>Creates an encoder over already mapped weights (the caller keeps the checkpoint open).</summary>
    public BertEncoder(BertConfig config, BertWeights weights, IBackend backend)
    {
        Config = config ?? throw new ArgumentNullException(nameof(config));
        Weights = weights ?? throw new ArgumentNullException(nameof(weights));
        Backend = backend ?? throw new ArgumentNullException(nameof(backend));
    }

    private BertEncoder(BertConfig config, BertWeights weights, IBackend backend, ModelFolder folder)
        : this(config, weights, backend) => _folder = folder;

    /// <summary>The architecture.</summary>
    public BertConfig Config { get; }

    /// <summary>Weights as views on <see cref="Backend"/>.</summary>
    public BertWeights Weights { get; }

    /// <summary>The backend running every op.</summary>
    public IBackend Backend { get; }

    /// <summary>The model folder when loaded with <see cref="Load(ModelFolder, IBackend)"/> (owned: disposed with the encoder).</summary>
    public ModelFolder? Folder => _folder;

    /// <summary>Opens a model folder and maps its weights; the encoder owns and disposes the folder.</summary>
    public static BertEncoder Load(string folder, IBackend backend) => Load(ModelFolder.Open(folder, "bert"), backend);

    /// <summary>Maps the weights of an open folder; the encoder takes ownership of it (also on failure).</summary>
    public static BertEncoder Load(ModelFolder folder, IBackend backend)
    {
        ArgumentNullException.ThrowIfNull(folder);
        try
        {
            ArgumentNullException.ThrowIfNull(backend);
            var config = BertConfig.FromFolder(folder);
            var weights = BertWeights.Load(folder.Weights, config, backend);
            return new BertEncoder(config, weights, backend, folder);
        }
        catch
        {
            folder.Dispose();
            throw;
        }
    }

    /// <summary>Activations for up to <paramref name="maxBatch"/> sequences of up to <paramref name="maxLength"/> tokens (default: max positions).</summary>
    public BertRunState CreateState(int maxBatch, int? maxLength = null) =>
        new(Config, Backend, maxBatch, maxLength ?? Config.MaxPositions);

    /// <summary>
    /// Runs the encoder over <paramref name="batch"/> sequences of <paramref name="length"/> tokens, row-major
    /// (b·length + t) in <paramref name="inputIds"/>, <paramref name="typeIds"/> and <paramref name="attentionMask"/>
    /// (1 = token, 0 = padding). Afterwards <c>state.Hidden</c> holds the last hidden states (B·L, H).
    /// </summary>
    public void Forward(BertRunState state, ReadOnlySpan<int> inputIds, ReadOnlySpan<int> typeIds, ReadOnlySpan<int> attentionMask, int batch, int length)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (batch < 1 || batch > state.MaxBatch) throw new ArgumentOutOfRangeException(nameof(batch), batch, $"must be in 1..{state.MaxBatch}");
        if (length < 1 || length > state.MaxLength) throw new ArgumentOutOfRangeException(nameof(length), length, $"must be in 1..{state.MaxLength}");
        int rows = batch * length;
        if (inputIds.Length != rows || typeIds.Length != rows || attentionMask.Length != rows)
            throw new ArgumentException($"ids, type ids and mask must each hold batch·length = {rows} values");
        for (int i = 0; i < rows; i++)
        {
            if ((uint)inputIds[i] >= (uint)Config.VocabSize) throw new ArgumentOutOfRangeException(nameof(inputIds), $"id {inputIds[i]} at {i} is outside the vocabulary of {Config.VocabSize}");
            if ((uint)typeIds[i] >= (uint)Config.TypeVocabSize) throw new ArgumentOutOfRangeException(nameof(typeIds), $"type id {typeIds[i]} at {i} is outside 0..{Config.TypeVocabSize - 1}");
        }

        var b = Backend;
        b.Upload(inputIds, state.InputIds.SliceColumns(0, rows));
        b.Upload(typeIds, state.TypeIds.SliceColumns(0, rows));
        b.Upload(attentionMask, state.AttentionMask.SliceColumns(0, rows));
        Span<int> positions = rows <= 4096 ? stackalloc int[rows] : new int[rows];
        for (int i = 0; i < rows; i++) positions[i] = i % length;
        b.Upload<int>(positions, state.PositionIds.SliceColumns(0, rows));
        ForwardCore(state, batch, length);
    }

    /// <summary>The pass itself, inputs already in <paramref name="s"/>.</summary>
    private void ForwardCore(BertRunState s, int batch, int length)
    {
        var b = Backend;
        var c = Config;
        var w = Weights;
        int rows = batch * length;
        var x = s.Hidden.Slice(0, rows);
        var q = s.Query.Slice(0, rows);
        var k = s.Key.Slice(0, rows);
        var v = s.Value.Slice(0, rows);
        var ctx = s.Context.Slice(0, rows);
        var ffn = s.Intermediate.Slice(0, rows);
        var mask = s.AttentionMask.SliceColumns(0, rows);
        var shape = new AttentionShape(batch, length, length, length, c.Heads, c.HeadDim, 1f / MathF.Sqrt(c.HeadDim));

        // embeddings: word + position + token type, then LayerNorm
        b.Embedding(w.WordEmbeddings, s.InputIds.SliceColumns(0, rows), x);
        b.Embedding(w.PositionEmbeddings, s.PositionIds.SliceColumns(0, rows), x, accumulate: true);
        b.Embedding(w.TokenTypeEmbeddings, s.TypeIds.SliceColumns(0, rows), x, accumulate: true);
        b.LayerNorm(x, w.EmbeddingNormWeight, w.EmbeddingNormBias, c.LayerNormEps, x);

        foreach (var l in w.Layers)
        {
            // x = LN(x + Wo·MHA(x, mask))
            b.MatMul(x, l.Query, l.QueryBias, q);
            b.MatMul(x, l.Key, l.KeyBias, k);
            b.MatMul(x, l.Value, l.ValueBias, v);
            b.Attention(q, k, v, mask, ctx, shape);
            b.MatMul(ctx, l.AttentionOutput, l.AttentionOutputBias, x, MatMulEpilogue.Accumulate);
            b.LayerNorm(x, l.AttentionNormWeight, l.AttentionNormBias, c.LayerNormEps, x);

            // x = LN(x + W2·gelu(W1·x))
            b.MatMul(x, l.Intermediate, l.IntermediateBias, ffn, MatMulEpilogue.Gelu);
            b.MatMul(ffn, l.Output, l.OutputBias, x, MatMulEpilogue.Accumulate);
            b.LayerNorm(x, l.OutputNormWeight, l.OutputNormBias, c.LayerNormEps, x);
        }
    }

    /// <summary>
    /// Bi-encoder embeddings of the last <see cref="Forward"/>: mean over unmasked positions (or [CLS]), L2-normalised
    /// when the config says so, into <paramref name="destination"/> (batch × H, row-major).
    /// </summary>
    public void Pool(BertRunState state, int batch, int length, Span<float> destination)
    {
        ArgumentNullException.ThrowIfNull(state);
        int h = Config.HiddenSize;
        if (destination.Length < batch * h) throw new ArgumentException($"destination needs {batch * h} values", nameof(destination));
        var pooled = state.Pooled.Slice(0, batch);
        var hidden = state.Hidden.Slice(0, batch * length);
        if (Config.Pooling == BertPooling.Mean)
            Backend.MaskedMeanPool(hidden, state.AttentionMask.SliceColumns(0, batch * length).Reshape(batch, length), pooled);
        else
            Backend.Copy(FirstTokens(hidden, batch, length), pooled);
        if (Config.Normalize) Backend.L2Normalize(pooled, pooled);
        Backend.Download(pooled, destination);
    }

    /// <summary>Cross-encoder scores of the last <see cref="Forward"/>: classifier(tanh(pooler(h[:, 0]))), raw logits.</summary>
    public void Score(BertRunState state, int batch, int length, Span<float> scores)
    {
        ArgumentNullException.ThrowIfNull(state);
        if (!Config.IsCrossEncoder) throw new InvalidOperationException("this model has no classifier head (architectures is not BertForSequenceClassification)");
        if (scores.Length < batch) throw new ArgumentException($"scores needs {batch} values", nameof(scores));
        var pooled = state.PoolerOutput.Slice(0, batch);
        Backend.MatMul(FirstTokens(state.Hidden.Slice(0, batch * length), batch, length), Weights.Pooler, Weights.PoolerBias, pooled);
        Backend.Tanh(pooled, pooled);
        var result = state.Scores.Slice(0, batch);
        Backend.MatMul(pooled, Weights.Classifier, Weights.ClassifierBias, result);
        Backend.Download(result, scores);
    }

    // rows b·L (the [CLS] position of each sequence) as a strided view
    private Tensor FirstTokens(Tensor hidden, int batch, int length) =>
        new(hidden.Data, DType.F32, batch, Config.HiddenSize, length * Config.HiddenSize);

    /// <summary>When the encoder owns its model folder: releases the weights' prepared matrices and disposes the folder.</summary>
    public void Dispose()
    {
        if (_folder is null) return; // weights given to the constructor stay the caller's
        Weights.Dispose();
        _folder.Dispose();
    }
}
