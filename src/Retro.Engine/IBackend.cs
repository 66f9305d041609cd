using Retro.Engine.Checkpoints;

namespace Retro.Engine;

/// <summary>
/// A compute backend (ggml style). It owns its buffers; ops are enqueued in call order and may run asynchronously
/// until <see cref="Synchronize"/> (the CPU backend runs them synchronously). Every tensor is a <see cref="Tensor"/>
/// view of this backend's memory; activations are F32, weights F32, F16 or BF16 as stored; ids and masks I32.
/// Ops validate shapes and throw <see cref="ArgumentException"/> on mismatch. Unless stated, y may alias x.
/// A backend is used by one thread at a time per set of buffers; ops themselves may use many threads.
/// </summary>
public interface IBackend : IDisposable
{
    /// <summary>Short name for logs and reports, e.g. <c>cpu</c>.</summary>
    string Name { get; }

    /// <summary>True when this backend runs <paramref name="op"/> with weights of <paramref name="weightType"/>; otherwise use the CPU backend.</summary>
    bool Supports(BackendOp op, DType weightType = DType.F32);

    /// <summary>Allocates <paramref name="byteLength"/> bytes of backend memory (64-byte aligned, contents undefined).</summary>
    BackendBuffer Allocate(long byteLength);

    /// <summary>
    /// A view of a checkpoint tensor usable as a weight on this backend, as rows × columns where columns is the
    /// innermost dimension. The CPU backend maps it in place (no copy: the checkpoint must stay open); a device
    /// backend uploads it once and frees it with the backend.
    /// </summary>
    Tensor Weights(CheckpointTensor tensor);

    /// <summary>
    /// Declares <paramref name="w"/> (exactly this view) a <see cref="MatMul"/> weight that stays unchanged until the
    /// returned handle is disposed, so that the backend may keep a private layout of it for faster products (the CPU
    /// backend packs BF16 and F32 weights into column blocks, about the weight's size again, read without per-call
    /// packing). Models call it once per matrix at load. The default keeps nothing.
    /// </summary>
    IDisposable PrepareWeight(Tensor w) => NoPreparedWeight.Instance;

    /// <summary>
    /// Several independent <see cref="Attention"/> calls at once (the sequences of a decoding batch, each over its own
    /// cache): the same results as calling them in order, which is what this default does; the CPU backend runs them
    /// as one parallel job. An item's output must not overlap another item's inputs.
    /// </summary>
    void AttentionBatch(ReadOnlySpan<AttentionItem> items)
    {
        foreach (var it in items) Attention(it.Q, it.K, it.V, it.KeyMask, it.Output, it.Shape, it.Sinks);
    }

    /// <summary>Copies host <paramref name="source"/> (exactly <c>destination.ElementCount</c> values of its type) into <paramref name="destination"/>.</summary>
    void Upload<T>(ReadOnlySpan<T> source, Tensor destination) where T : unmanaged;

    /// <summary>Copies <paramref name="source"/> into host <paramref name="destination"/> (row-major, at least <c>source.ElementCount</c> values); waits for pending ops.</summary>
    void Download<T>(Tensor source, Span<T> destination) where T : unmanaged;

    /// <summary>Waits until every enqueued op has finished.</summary>
    void Synchronize();

    /// <summary>
    /// y[M×N] (epilogue) x[M×K] · w[N×K]ᵀ + bias[1×N]: activations times a Linear weight stored (out, in).
    /// w and bias may be F32, F16 or BF16; bias is optional (default tensor); y must not alias x.
    /// </summary>
    void MatMul(Tensor x, Tensor w, Tensor bias, Tensor y, MatMulEpilogue epilogue = MatMulEpilogue.Store);

    /// <summary>Per row: y = (x − mean) / sqrt(var + eps) · gamma + beta (biased variance); gamma and beta are 1 × columns, F32, F16 or BF16.</summary>
    void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y);

    /// <summary>y = gelu(x) = x·Φ(x), exact (erf).</summary>
    void Gelu(Tensor x, Tensor y);

    /// <summary>y = tanh(x).</summary>
    void Tanh(Tensor x, Tensor y);

    /// <summary>y = a + b, same shapes, or b a single row broadcast over a's rows.</summary>
    void Add(Tensor a, Tensor b, Tensor y);

    /// <summary>Per row: y = softmax(x).</summary>
    void Softmax(Tensor x, Tensor y);

    /// <summary>
    /// Rotary embedding in place, rotate-half convention, on every head of every row of <paramref name="x"/>
    /// (rows × heads·headDim); row t has position <c>positions[t]</c> (I32, 1 × rows): for pair j &lt; headDim/2,
    /// angle = pos·theta^(−2j/headDim), (a, b) = (x[j], x[j + headDim/2]) → (a·cos − b·sin, b·cos + a·sin).
    /// </summary>
    void Rope(Tensor x, Tensor positions, int heads, int headDim, float theta);

    /// <summary>
    /// Masked multi-head attention: output = softmax(scale·q·kᵀ + mask)·v per batch item and head. Keys j ≥ KeyLength,
    /// keys with <c>keyMask[b, j] == 0</c> (I32, optional: Batch × KeyCapacity, or that many contiguous values) and, when causal, keys after the
    /// query's position are excluded. A query that sees no key gets a zero output. output must not alias q, k or v.
    /// <paramref name="sinks"/> (optional, F32, Heads values): head h's softmax also runs over one more key of logit
    /// sinks[h] (not scaled) and value 0, so a head whose keys all score below its sink outputs about 0.
    /// </summary>
    void Attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor output, in AttentionShape shape, Tensor sinks = default);

    /// <summary>y[i] = table[ids[i]] (or y[i] += … when <paramref name="accumulate"/>); ids I32 with y.Rows elements, each in [0, table.Rows).</summary>
    void Embedding(Tensor table, Tensor ids, Tensor y, bool accumulate = false);

    /// <summary>y = x element-wise (same shape; F32, or F16/BF16 x converted to F32 y).</summary>
    void Copy(Tensor x, Tensor y);

    /// <summary>
    /// y[b] = mean of x rows b·L .. b·L+L−1 whose <c>mask[b, t]</c> ≠ 0 (x: B·L × H, mask I32 B × L, y: B × H);
    /// a row with no unmasked position yields zeros.
    /// </summary>
    void MaskedMeanPool(Tensor x, Tensor mask, Tensor y);

    /// <summary>Per row: y = x / max(‖x‖₂, 1e-12).</summary>
    void L2Normalize(Tensor x, Tensor y);
}

/// <summary>The handle of a weight a backend keeps no layout for.</summary>
public sealed class NoPreparedWeight : IDisposable
{
    /// <summary>The one instance.</summary>
    public static readonly NoPreparedWeight Instance = new();

    private NoPreparedWeight() { }

    /// <inheritdoc />
    public void Dispose() { }
}

/// <summary>The arguments of one <see cref="IBackend.Attention"/> call, as an item of <see cref="IBackend.AttentionBatch"/>.</summary>
public readonly record struct AttentionItem(Tensor Q, Tensor K, Tensor V, Tensor KeyMask, Tensor Output, AttentionShape Shape,
    Tensor Sinks = default);
