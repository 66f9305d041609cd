namespace Retro.Engine.Bert;

/// <summary>
/// Activations of one BERT forward pass, allocated once for up to <see cref="MaxBatch"/> sequences of up to
/// <see cref="MaxLength"/> tokens; a forward pass uses the leading B·L rows. Not thread-safe: one pass at a time.
/// </summary>
public sealed class BertRunState : IDisposable
{
    private readonly BackendBuffer[] _buffers;

    /// <summary>Allocates the activations of <paramref name="config"/> on <paramref name="backend"/>.</summary>
    public BertRunState(BertConfig config, IBackend backend, int maxBatch, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatch, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxLength, config.MaxPositions);
        MaxBatch = maxBatch;
        MaxLength = maxLength;
        int rows = maxBatch * maxLength, h = config.HiddenSize;
        var buffers = new List<BackendBuffer>();
        Tensor Make(DType type, int r, int c)
        {
            var b = backend.Allocate((long)r * c * DTypes.SizeOf(type));
            buffers.Add(b);
            return b.AsTensor(type, r, c);
        }
        Hidden = Make(DType.F32, rows, h);
        Query = Make(DType.F32, rows, h);
        Key = Make(DType.F32, rows, h);
        Value = Make(DType.F32, rows, h);
        Context = Make(DType.F32, rows, h);
        Intermediate = Make(DType.F32, rows, config.IntermediateSize);
        InputIds = Make(DType.I32, 1, rows);
        TypeIds = Make(DType.I32, 1, rows);
        PositionIds = Make(DType.I32, 1, rows);
        AttentionMask = Make(DType.I32, 1, rows);
        Pooled = Make(DType.F32, maxBatch, h);
        PoolerOutput = Make(DType.F32, maxBatch, h);
        Scores = Make(DType.F32, maxBatch, 1);
        _buffers = [.. buffers];
    }

    /// <summary>Sequences per pass at most.</summary>
    public int MaxBatch { get; }

    /// <summary>Tokens per sequence at most.</summary>
    public int MaxLength { get; }

    /// <summary>(B·L, H): the residual stream; after a pass, the last layer's hidden states.</summary>
    public Tensor Hidden { get; }
    /// <summary>(B·L, H) each: attention projections.</summary>
    public Tensor Query { get; }
    /// <summary>(B·L, H).</summary>
    public Tensor Key { get; }
    /// <summary>(B·L, H).</summary>
    public Tensor Value { get; }
    /// <summary>(B·L, H): attention output before its projection.</summary>
    public Tensor Context { get; }
    /// <summary>(B·L, I): gelu of the first feed-forward projection.</summary>
    public Tensor Intermediate { get; }
    /// <summary>(1, B·L) I32: token ids (row b·L + t).</summary>
    public Tensor InputIds { get; }
    /// <summary>(1, B·L) I32: token type ids.</summary>
    public Tensor TypeIds { get; }
    /// <summary>(1, B·L) I32: position t of row b·L + t.</summary>
    public Tensor PositionIds { get; }
    /// <summary>(1, B·L) I32: 1 for real tokens, 0 for padding (viewed as B × L).</summary>
    public Tensor AttentionMask { get; }
    /// <summary>(B, H): pooled embedding (bi-encoder).</summary>
    public Tensor Pooled { get; }
    /// <summary>(B, H): tanh(pooler(h[:, 0])) (cross-encoder).</summary>
    public Tensor PoolerOutput { get; }
    /// <summary>(B, 1): cross-encoder logits.</summary>
    public Tensor Scores { get; }

    /// <summary>Frees the activations.</summary>
    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
    }
}
