using System.Runtime.InteropServices;
using Retro.Engine.Checkpoints;

namespace Retro.Engine.Tests.Retro;

/// <summary>
/// A backend whose ops do nothing but count calls (buffers are real host memory; upload and download copy).
/// Lets a test look at the decoder's own orchestration — what it allocates, which ops it issues — apart from any
/// real backend's costs.
/// </summary>
internal sealed unsafe class RecordingBackend : IBackend
{
    public int Ops { get; private set; }
    public int MatMuls { get; private set; }

    public string Name => "recording";
    public bool Supports(BackendOp op, DType weightType = DType.F32) => true;
    public BackendBuffer Allocate(long byteLength) => new HostBuffer(this, byteLength);
    public Tensor Weights(CheckpointTensor tensor) => new(tensor.Address, tensor.Type, tensor.Rows, tensor.Columns, tensor.Columns);

    public void Upload<T>(ReadOnlySpan<T> source, Tensor destination) where T : unmanaged
    {
        for (int r = 0; r < destination.Rows; r++)
            source.Slice(r * destination.Columns, destination.Columns).CopyTo(new Span<T>((T*)destination.Data + (long)r * destination.RowStride, destination.Columns));
    }

    public void Download<T>(Tensor source, Span<T> destination) where T : unmanaged
    {
        for (int r = 0; r < source.Rows; r++)
            new ReadOnlySpan<T>((T*)source.Data + (long)r * source.RowStride, source.Columns).CopyTo(destination.Slice(r * source.Columns, source.Columns));
    }

    public void Synchronize() { }
    public void MatMul(Tensor x, Tensor w, Tensor bias, Tensor y, MatMulEpilogue epilogue = MatMulEpilogue.Store) { Ops++; MatMuls++; }
    public void LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps, Tensor y) => Ops++;
    public void Gelu(Tensor x, Tensor y) => Ops++;
    public void Tanh(Tensor x, Tensor y) => Ops++;
    public void Add(Tensor a, Tensor b, Tensor y) => Ops++;
    public void Softmax(Tensor x, Tensor y) => Ops++;
    public void Rope(Tensor x, Tensor positions, int heads, int headDim, float theta) => Ops++;
    public void Attention(Tensor q, Tensor k, Tensor v, Tensor keyMask, Tensor output, in AttentionShape shape, Tensor sinks = default) => Ops++;
    public void Embedding(Tensor table, Tensor ids, Tensor y, bool accumulate = false) => Ops++;
    public void Copy(Tensor x, Tensor y) => Ops++;
    public void MaskedMeanPool(Tensor x, Tensor mask, Tensor y) => Ops++;
    public void L2Normalize(Tensor x, Tensor y) => Ops++;
    public void Dispose() { }

    private sealed class HostBuffer(IBackend backend, long bytes)
        : BackendBuffer(backend, (nint)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 1), 64), bytes)
    {
        protected override void Free(nint data) => NativeMemory.AlignedFree((void*)data);
    }
}
