namespace Retro.Engine.Retro;

/// <summary>
/// Activations for stepping up to <see cref="Capacity"/> sessions together (<see cref="RetroDecoder.StepBatch"/>):
/// one row per session, so every weight matrix is read once per step for all of them (GEMM instead of GEMV).
/// Each session keeps its own KV and CCA caches in its <see cref="RetroRunState"/>. Not thread-safe; dispose to
/// free the backend memory.
/// </summary>
public sealed class RetroBatch : IDisposable
{
    private readonly List<BackendBuffer> _buffers = [];

    /// <summary>
    /// Allocates activations for <paramref name="capacity"/> sessions of <paramref name="decoder"/> and, for
    /// <see cref="RetroDecoder.SegmentBatch"/>, <paramref name="rowCapacity"/> token rows in all (default: one per session).
    /// </summary>
    public RetroBatch(RetroDecoder decoder, int capacity, int? rowCapacity = null)
    {
        ArgumentNullException.ThrowIfNull(decoder);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        int rows = rowCapacity ?? capacity;
        ArgumentOutOfRangeException.ThrowIfLessThan(rows, capacity, nameof(rowCapacity));
        Decoder = decoder;
        Capacity = capacity;
        RowCapacity = rows;
        var c = decoder.Config;
        X = F32(rows, c.DModel);
        Xb = F32(rows, c.DModel);
        Q = F32(rows, c.DModel);
        Qkv = F32(rows, 3 * c.DModel);
        AttnOut = F32(rows, c.DModel);
        Hidden = F32(rows, c.DFf);
        Last = F32(capacity, c.DModel);
        LastNormed = F32(capacity, c.DModel);
        Logits = F32(capacity, c.VocabSize);
        Ids = Alloc(DType.I32, 1, rows);
        Positions = Alloc(DType.I32, 1, rows);
        CcaPositions = Alloc(DType.I32, 1, rows);
        HostIds = new int[rows];
        HostRowPositions = new int[rows];
        HostCcaPositions = new int[rows];
        HostPositions = new int[capacity];
        HostLengths = new int[capacity];
        HostPadded = new int[capacity];
        AttentionItems = new AttentionItem[capacity];
        HostNeighbourCounts = new int[capacity];
        HostLogits = new float[capacity * c.VocabSize];
    }

    /// <summary>The decoder the activations are sized for.</summary>
    public RetroDecoder Decoder { get; }

    /// <summary>Most sessions stepped together.</summary>
    public int Capacity { get; }

    /// <summary>Token rows one <see cref="RetroDecoder.SegmentBatch"/> call can feed in all (≥ <see cref="Capacity"/>).</summary>
    public int RowCapacity { get; }

    internal Tensor X { get; }          // (B, D) residual streams, one row per session (SegmentBatch: per token)
    internal Tensor Xb { get; }         // (B, D) normed
    internal Tensor Q { get; }          // (B, D)
    internal Tensor Qkv { get; }        // (B, 3D) q | k | v; k | v are then copied into each session's cache
    internal Tensor AttnOut { get; }    // (B, D)
    internal Tensor Hidden { get; }     // (B, F)
    internal Tensor Last { get; }       // (B, D) each session's last row (SegmentBatch)
    internal Tensor LastNormed { get; } // (B, D)
    internal Tensor Logits { get; }     // (B, V)
    internal Tensor Ids { get; }        // I32 (1, B)
    internal Tensor Positions { get; }  // I32 (1, B)
    internal Tensor CcaPositions { get; } // I32 (1, B) CCA query positions m−1 + ((p+1) mod m) (cca_positions = rope)
    internal int[] HostIds { get; }
    internal int[] HostRowPositions { get; }
    internal int[] HostCcaPositions { get; }
    internal int[] HostPositions { get; }
    internal int[] HostLengths { get; }
    internal AttentionItem[] AttentionItems { get; } // one per session: its attention over its own cache
    internal int[] HostPadded { get; }  // leading pads of each segment taken from the pad prefix
    internal int[] HostNeighbourCounts { get; }
    internal float[] HostLogits { get; }

    /// <summary>Frees the backend buffers.</summary>
    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
        _buffers.Clear();
    }

    private Tensor F32(int rows, int cols) => Alloc(DType.F32, rows, cols);

    private Tensor Alloc(DType type, int rows, int cols)
    {
        var buffer = Decoder.Backend.Allocate((long)rows * cols * DTypes.SizeOf(type));
        _buffers.Add(buffer);
        return buffer.AsTensor(type, rows, cols);
    }
}
