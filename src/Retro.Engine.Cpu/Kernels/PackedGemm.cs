using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// A Linear weight w[N×K] (BF16 or F32) packed once, when a model is loaded, into blocks of 64 output columns:
/// block b holds, for every depth k, the 64 weights of columns 64b .. 64b+63 (zero past N) in one contiguous run
/// (128 bytes BF16, 256 bytes F32). BF16 pairs are interleaved so that a 32-bit lane holds column i in its low half
/// and column i + 16 in its high half: a shift and a mask then give two Vector512 of exact F32 weights without a
/// shuffle. Same bytes as the stored weight (plus padding to 64 columns).
/// </summary>
internal sealed unsafe class PackedWeight : IDisposable
{
    public const int BlockColumns = 64;

    private PackedWeight(byte* data, DType type, int n, int k)
    {
        Data = data;
        Type = type;
        N = n;
        K = k;
    }

    /// <summary>Start of block 0.</summary>
    public byte* Data { get; private set; }

    /// <summary>BF16 or F32.</summary>
    public DType Type { get; }

    /// <summary>Output columns (the weight's rows).</summary>
    public int N { get; }

    /// <summary>Depth (the weight's columns).</summary>
    public int K { get; }

    /// <summary>Number of 64-column blocks.</summary>
    public int Blocks => (N + BlockColumns - 1) / BlockColumns;

    /// <summary>Bytes of one depth of one block.</summary>
    public int DepthBytes => Type == DType.BF16 ? BlockColumns * 2 : BlockColumns * 4;

    /// <summary>Bytes of one block (K depths).</summary>
    public long BlockBytes => (long)K * DepthBytes;

    /// <summary>True when this host runs the packed kernels (AVX-512) and <paramref name="type"/> is packable.</summary>
    public static bool Supported(DType type) => Avx512F.IsSupported && type is DType.BF16 or DType.F32;

    /// <summary>Packs the N×K weight at <paramref name="w"/> (row stride <paramref name="ldw"/> elements).</summary>
    public static PackedWeight Pack(void* w, DType type, int n, int k, int ldw)
    {
        var p = new PackedWeight(null, type, n, k);
        long bytes = p.Blocks * p.BlockBytes;
        p.Data = (byte*)NativeMemory.AlignedAlloc((nuint)Math.Max(bytes, 64), 64);
        for (int b = 0; b < p.Blocks; b++)
        {
            byte* block = p.Data + b * p.BlockBytes;
            int c0 = b * BlockColumns;
            if (type == DType.BF16)
            {
                for (int kk = 0; kk < k; kk++)
                {
                    ushort* dst = (ushort*)(block + (long)kk * p.DepthBytes);
                    for (int half = 0; half < 2; half++)
                        for (int i = 0; i < 16; i++)
                        {
                            int lo = c0 + 32 * half + i, hi = lo + 16;
                            dst[32 * half + 2 * i] = lo < n ? ((ushort*)w)[(long)lo * ldw + kk] : (ushort)0;
                            dst[32 * half + 2 * i + 1] = hi < n ? ((ushort*)w)[(long)hi * ldw + kk] : (ushort)0;
                        }
                }
            }
            else
            {
                for (int kk = 0; kk < k; kk++)
                {
                    float* dst = (float*)(block + (long)kk * p.DepthBytes);
                    for (int j = 0; j < BlockColumns; j++)
                        dst[j] = c0 + j < n ? ((float*)w)[(long)(c0 + j) * ldw + kk] : 0f;
                }
            }
        }
        return p;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        NativeMemory.AlignedFree(Data);
        Data = null;
    }
}

/// <summary>
/// y[M×N] (epilogue) x[M×K]·w[N×K]ᵀ + bias over a <see cref="PackedWeight"/>, for every M: no per-call packing and
/// no horizontal sums. A micro-tile is up to 4 rows × 64 columns (16 Vector512 accumulators); per depth it loads the
/// block's 64 weights once (widened from BF16 by a shift and a mask), broadcasts one x value per row and issues
/// 4 FMAs per row. Each output is one accumulator summed over k in order, so a row's result does not depend on how
/// many rows share the call (batched decoding equals single-session decoding bitwise). Parallel over column blocks;
/// rows in groups that keep x in L2 while a block (≤ 128 KiB at K = 1024) stays in L1/L2.
/// </summary>
internal static unsafe class PackedGemm
{
    private const int RowGroup = 64;

    [ThreadStatic] private static PackedJob? t_job;

    /// <summary>Runs on <paramref name="pool"/>; assumes validated shapes (a.N, a.K = the packed weight's).</summary>
    public static void Run(WorkerPool pool, in Gemm.Args a, PackedWeight w)
    {
        if (a.M == 0 || a.N == 0) return;
        int blocks = w.Blocks;
        int parts = Math.Min(blocks, 4 * pool.Parallelism);
        if ((long)a.M * a.N * a.K < 64 * 1024) parts = 1; // too small to be worth waking a thread
        var job = t_job ??= new PackedJob();
        job.A = a;
        job.W = w;
        pool.Run(job, parts);
        job.A = default;
        job.W = null;
    }

    private sealed class PackedJob : ParallelJob
    {
        public Gemm.Args A;
        public PackedWeight? W;

        public override void Execute(int part, int parts)
        {
            int blocks = W!.Blocks;
            int b0 = (int)((long)blocks * part / parts), b1 = (int)((long)blocks * (part + 1) / parts);
            Blocks(A, W, b0, b1);
        }
    }

    /// <summary>Column blocks [b0, b1) of every row, single-threaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Blocks(in Gemm.Args a, PackedWeight w, int b0, int b1)
    {
        bool bf16 = w.Type == DType.BF16;
        float* c = stackalloc float[4 * PackedWeight.BlockColumns];
        if (a.M == 1)
        {
            // one row (decoding a single sequence): two blocks at a time, so that eight accumulator chains hide the
            // FMA latency (four would leave half the FMA throughput idle); each output's sum is the same as alone
            int b = b0;
            for (; b + 2 <= b1; b += 2)
            {
                byte* block = w.Data + b * w.BlockBytes;
                if (bf16) OneRowTwoBlocks<Bf16Block>(a, block, block + w.BlockBytes, c);
                else OneRowTwoBlocks<F32Block>(a, block, block + w.BlockBytes, c);
                Store(a, 0, 1, b * PackedWeight.BlockColumns, c);
                Store(a, 0, 1, (b + 1) * PackedWeight.BlockColumns, c + PackedWeight.BlockColumns);
            }
            if (b < b1)
            {
                byte* block = w.Data + b * w.BlockBytes;
                if (bf16) Tile<Rows1, Bf16Block>(a, 0, block, c);
                else Tile<Rows1, F32Block>(a, 0, block, c);
                Store(a, 0, 1, b * PackedWeight.BlockColumns, c);
            }
            return;
        }
        for (int r0 = 0; r0 < a.M; r0 += RowGroup)
        {
            int r1 = Math.Min(a.M, r0 + RowGroup);
            for (int b = b0; b < b1; b++)
            {
                byte* block = w.Data + b * w.BlockBytes;
                for (int i = r0; i < r1; i += 4)
                {
                    int rows = Math.Min(4, r1 - i);
                    byte* next = i == r0 && b + 1 < b1 ? block + w.BlockBytes : null; // the first tile fetches the next block
                    switch (rows, bf16)
                    {
                        case (4, true): Tile<Rows4, Bf16Block>(a, i, block, c, next); break;
                        case (3, true): Tile<Rows3, Bf16Block>(a, i, block, c, next); break;
                        case (2, true): Tile<Rows2, Bf16Block>(a, i, block, c, next); break;
                        case (1, true): Tile<Rows1, Bf16Block>(a, i, block, c, next); break;
                        case (4, false): Tile<Rows4, F32Block>(a, i, block, c, next); break;
                        case (3, false): Tile<Rows3, F32Block>(a, i, block, c, next); break;
                        case (2, false): Tile<Rows2, F32Block>(a, i, block, c, next); break;
                        default: Tile<Rows1, F32Block>(a, i, block, c, next); break;
                    }
                    Store(a, i, rows, b * PackedWeight.BlockColumns, c);
                }
            }
        }
    }

    /// <summary>How one depth of a block (64 weights) becomes four Vector512 of F32 (columns 0–15, 16–31, 32–47, 48–63).</summary>
    private interface IBlockLoad
    {
        static abstract int DepthBytes { get; }
        static abstract void Load(byte* p, out Vector512<float> w0, out Vector512<float> w1, out Vector512<float> w2, out Vector512<float> w3);
    }

    private struct Bf16Block : IBlockLoad
    {
        public static int DepthBytes => 128;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* p, out Vector512<float> w0, out Vector512<float> w1, out Vector512<float> w2, out Vector512<float> w3)
        {
            var high = Vector512.Create(0xFFFF0000u);
            var v0 = Vector512.Load((uint*)p);
            var v1 = Vector512.Load((uint*)p + 16);
            w0 = Vector512.ShiftLeft(v0, 16).AsSingle();
            w1 = (v0 & high).AsSingle();
            w2 = Vector512.ShiftLeft(v1, 16).AsSingle();
            w3 = (v1 & high).AsSingle();
        }
    }

    private struct F32Block : IBlockLoad
    {
        public static int DepthBytes => 256;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Load(byte* p, out Vector512<float> w0, out Vector512<float> w1, out Vector512<float> w2, out Vector512<float> w3)
        {
            w0 = Vector512.Load((float*)p);
            w1 = Vector512.Load((float*)p + 16);
            w2 = Vector512.Load((float*)p + 32);
            w3 = Vector512.Load((float*)p + 48);
        }
    }

    /// <summary>
    /// c[r·64 + j] = x[row + r]·w[column 64b + j] for r &lt; TRows.Count: the accumulators go to the caller's scratch
    /// (a call or a stackalloc after the loop makes the JIT spill them inside it: every vector register is caller-saved).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile<TRows, TLoad>(in Gemm.Args a, int row, byte* block, float* c, byte* next = null)
        where TRows : struct, IRowCount where TLoad : struct, IBlockLoad
    {
        int rows = TRows.Count, k = a.K;
        float* x0 = a.X + (long)row * a.Ldx;
        float* x1 = rows > 1 ? x0 + a.Ldx : x0;
        float* x2 = rows > 2 ? x1 + a.Ldx : x1;
        float* x3 = rows > 3 ? x2 + a.Ldx : x2;
        Vector512<float> c00 = default, c01 = default, c02 = default, c03 = default;
        Vector512<float> c10 = default, c11 = default, c12 = default, c13 = default;
        Vector512<float> c20 = default, c21 = default, c22 = default, c23 = default;
        Vector512<float> c30 = default, c31 = default, c32 = default, c33 = default;
        byte* p = block;
        long ahead = next == null ? 0 : next - block;
        for (int i = 0; i < k; i++, p += TLoad.DepthBytes)
        {
            if (ahead != 0) Prefetch<TLoad>(p + ahead);
            TLoad.Load(p, out var w0, out var w1, out var w2, out var w3);
            var v = Vector512.Create(x0[i]);
            c00 = Vector512.FusedMultiplyAdd(v, w0, c00); c01 = Vector512.FusedMultiplyAdd(v, w1, c01);
            c02 = Vector512.FusedMultiplyAdd(v, w2, c02); c03 = Vector512.FusedMultiplyAdd(v, w3, c03);
            if (rows > 1)
            {
                v = Vector512.Create(x1[i]);
                c10 = Vector512.FusedMultiplyAdd(v, w0, c10); c11 = Vector512.FusedMultiplyAdd(v, w1, c11);
                c12 = Vector512.FusedMultiplyAdd(v, w2, c12); c13 = Vector512.FusedMultiplyAdd(v, w3, c13);
            }
            if (rows > 2)
            {
                v = Vector512.Create(x2[i]);
                c20 = Vector512.FusedMultiplyAdd(v, w0, c20); c21 = Vector512.FusedMultiplyAdd(v, w1, c21);
                c22 = Vector512.FusedMultiplyAdd(v, w2, c22); c23 = Vector512.FusedMultiplyAdd(v, w3, c23);
            }
            if (rows > 3)
            {
                v = Vector512.Create(x3[i]);
                c30 = Vector512.FusedMultiplyAdd(v, w0, c30); c31 = Vector512.FusedMultiplyAdd(v, w1, c31);
                c32 = Vector512.FusedMultiplyAdd(v, w2, c32); c33 = Vector512.FusedMultiplyAdd(v, w3, c33);
            }
        }
        c00.Store(c); c01.Store(c + 16); c02.Store(c + 32); c03.Store(c + 48);
        if (rows > 1) { c10.Store(c + 64); c11.Store(c + 80); c12.Store(c + 96); c13.Store(c + 112); }
        if (rows > 2) { c20.Store(c + 128); c21.Store(c + 144); c22.Store(c + 160); c23.Store(c + 176); }
        if (rows > 3) { c30.Store(c + 192); c31.Store(c + 208); c32.Store(c + 224); c33.Store(c + 240); }
    }

    /// <summary>One depth of the block to come, into L2 (a whole block ahead: the weights stream from L3 or memory once per step).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Prefetch<TLoad>(byte* p) where TLoad : struct, IBlockLoad
    {
        for (int line = 0; line < TLoad.DepthBytes; line += 64) Sse.Prefetch1(p + line);
    }

    /// <summary>c[0 .. 128) = x[0]·w[columns of blocks a and b]: <see cref="Tile"/> for one row over two blocks at once.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void OneRowTwoBlocks<TLoad>(in Gemm.Args a, byte* blockA, byte* blockB, float* c) where TLoad : struct, IBlockLoad
    {
        int k = a.K;
        float* x = a.X;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        byte* p = blockA, q = blockB;
        for (int i = 0; i < k; i++, p += TLoad.DepthBytes, q += TLoad.DepthBytes)
        {
            TLoad.Load(p, out var w0, out var w1, out var w2, out var w3);
            TLoad.Load(q, out var v0, out var v1, out var v2, out var v3);
            var xv = Vector512.Create(x[i]);
            c0 = Vector512.FusedMultiplyAdd(xv, w0, c0); c1 = Vector512.FusedMultiplyAdd(xv, w1, c1);
            c2 = Vector512.FusedMultiplyAdd(xv, w2, c2); c3 = Vector512.FusedMultiplyAdd(xv, w3, c3);
            d0 = Vector512.FusedMultiplyAdd(xv, v0, d0); d1 = Vector512.FusedMultiplyAdd(xv, v1, d1);
            d2 = Vector512.FusedMultiplyAdd(xv, v2, d2); d3 = Vector512.FusedMultiplyAdd(xv, v3, d3);
        }
        c0.Store(c); c1.Store(c + 16); c2.Store(c + 32); c3.Store(c + 48);
        d0.Store(c + 64); d1.Store(c + 80); d2.Store(c + 96); d3.Store(c + 112);
    }

    // y[row + r, col .. col+63] (epilogue) c[r] + bias for r < rows, as Gemm stores its 32-column tiles (the K sum is
    // complete: first and last); the block's columns past N are dropped
    private static void Store(in Gemm.Args a, int row, int rows, int col, float* c)
    {
        for (int half = 0; half < PackedWeight.BlockColumns && col + half < a.N; half += Gemm.NR)
            Gemm.Store(a, row, rows, col + half, Math.Min(Gemm.NR, a.N - col - half), c + half, PackedWeight.BlockColumns, first: true, last: true);
    }
}
