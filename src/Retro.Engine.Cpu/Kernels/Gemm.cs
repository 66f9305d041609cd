using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// y[M×N] (epilogue) x[M×K]·w[N×K]ᵀ + bias: BLIS-style blocked GEMM. B is packed once per call (per 2048-column
/// round) into 32-wide panels split in K blocks of ≤ 256 (converted from BF16/F16 on the way), shared by all parts;
/// each part (128 rows × a column range) sweeps 512-column groups of panels (≤ 512 KiB, in L2) with an 8×32
/// Vector512 micro-kernel (16 accumulators), each KC×32 panel (≤ 32 KiB) staying in L1 while the part's rows pass.
/// Small M (decoding) goes to <see cref="Gemv"/>. Both serve weights nobody prepared (tests, scratch matrices,
/// F16, hosts without AVX-512): a model's prepared weights take <see cref="PackedGemm"/> at every M.
/// </summary>
internal static unsafe class Gemm
{
    public const int MR = 8;          // rows per micro-tile
    public const int NR = 32;         // columns per micro-tile: two Vector512
    private const int KC = 256;       // depth per packed block: KC·NR·4 B = 32 KiB panel in L1 (48 KiB)
    private const int NC = 512;       // columns per packed block: KC·NC·4 B = 512 KiB in L2 (1 MiB)
    private const int MB = 128;       // rows per part: MB·KC·4 B = 128 KiB of x in L2
    internal const int GemvMaxRows = 7;

    private const int ChunkColumns = 2048; // columns packed per round: bounds the shared buffer (K·2048·4 B)

    [ThreadStatic] private static float* t_packed;
    [ThreadStatic] private static long t_packedLength;
    [ThreadStatic] private static PackJob? t_pack;
    [ThreadStatic] private static GemmJob? t_job;

    /// <summary>Arguments of one multiplication (pointers already offset to element (0, 0)).</summary>
    public struct Args
    {
        public float* X; public int Ldx;
        public void* W; public int Ldw; public DType WType;
        public float* Bias;
        public float* Y; public int Ldy;
        public int M, N, K;
        public MatMulEpilogue Epilogue;
    }

    /// <summary>
    /// Runs the multiplication on <paramref name="pool"/>. Assumes validated shapes. Per round of up to 2048
    /// columns, B is packed once (in parallel, into the caller's buffer) and shared by all row blocks.
    /// </summary>
    public static void Run(WorkerPool pool, in Args a)
    {
        if (a.M == 0 || a.N == 0) return;
        if (a.M <= GemvMaxRows)
        {
            Gemv.Run(pool, a);
            return;
        }
        RunPacked(pool, a);
    }

    /// <summary>The packed path of <see cref="Run"/> whatever M is (benchmarks compare it with <see cref="Gemv"/>).</summary>
    internal static void RunPacked(WorkerPool pool, in Args a)
    {
        if (a.M == 0 || a.N == 0) return;
        int kBlocks = (a.K + KC - 1) / KC;
        int kc = (a.K + kBlocks - 1) / kBlocks; // even split: K = 384 → 2 × 192
        long need = (long)a.K * Math.Min(ChunkColumns, (a.N + NR - 1) / NR * NR);
        if (t_packedLength < need)
        {
            NativeMemory.AlignedFree(t_packed);
            t_packed = (float*)NativeMemory.AlignedAlloc((nuint)(need * sizeof(float)), 64);
            t_packedLength = need;
        }
        var pack = t_pack ??= new PackJob();
        var job = t_job ??= new GemmJob();
        int rowBlocks = (a.M + MB - 1) / MB;
        for (int c0 = 0; c0 < a.N; c0 += ChunkColumns)
        {
            int cn = Math.Min(ChunkColumns, a.N - c0);
            int panels = (cn + NR - 1) / NR;
            pack.A = a; pack.C0 = c0; pack.Cn = cn; pack.Kc = kc; pack.Packed = t_packed;
            pool.Run(pack, Math.Min(panels, 4 * pool.Parallelism));

            int columnBlocks = 1;
            int wanted = 2 * pool.Parallelism;
            if (rowBlocks < wanted) columnBlocks = Math.Min(panels, (wanted + rowBlocks - 1) / rowBlocks);
            job.A = a; job.C0 = c0; job.Cn = cn; job.Kc = kc; job.Packed = t_packed;
            job.RowBlocks = rowBlocks; job.ColumnBlocks = columnBlocks;
            pool.Run(job, rowBlocks * columnBlocks);
        }
        pack.A = default;
        job.A = default;
    }

    // packed layout of a round (columns c0 .. c0+cn): K block at pc (size kc) starts at pc·cnPad; in it, panel p
    // (columns c0 + 32p ..) is kc × 32 floats, row k = the 32 weights of those columns at depth pc + k (zero past N)
    private sealed class PackJob : ParallelJob
    {
        public Args A;
        public int C0, Cn, Kc;
        public float* Packed;

        public override void Execute(int part, int parts)
        {
            int panels = (Cn + NR - 1) / NR;
            int p0 = (int)((long)panels * part / parts), p1 = (int)((long)panels * (part + 1) / parts);
            int cnPad = panels * NR;
            for (int p = p0; p < p1; p++)
                for (int pc = 0; pc < A.K; pc += Kc)
                    PackPanel(A, C0 + p * NR, C0 + Cn, pc, Math.Min(Kc, A.K - pc), Packed + (long)pc * cnPad + (long)p * Math.Min(Kc, A.K - pc) * NR);
        }
    }

    private sealed class GemmJob : ParallelJob
    {
        public Args A;
        public int C0, Cn, Kc, RowBlocks, ColumnBlocks;
        public float* Packed;

        public override void Execute(int part, int parts)
        {
            int rb = part / ColumnBlocks, cb = part % ColumnBlocks;
            int r0 = rb * MB, r1 = Math.Min(A.M, r0 + MB);
            int panels = (Cn + NR - 1) / NR;
            int p0 = (int)((long)panels * cb / ColumnBlocks), p1 = (int)((long)panels * (cb + 1) / ColumnBlocks);
            Block(A, Packed, C0, Cn, Kc, r0, r1, p0, p1);
        }
    }

    /// <summary>Rows [r0, r1) × panels [p0, p1) of a packed round, single-threaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Block(in Args a, float* packed, int c0, int cn, int kc0, int r0, int r1, int p0, int p1)
    {
        int cnPad = (cn + NR - 1) / NR * NR;
        const int panelsPerGroup = NC / NR; // the packed B a row block sweeps stays in L2
        for (int g = p0; g < p1; g += panelsPerGroup)
        {
            int gEnd = Math.Min(p1, g + panelsPerGroup);
            for (int pc = 0; pc < a.K; pc += kc0)
            {
                int kc = Math.Min(kc0, a.K - pc);
                bool first = pc == 0, last = pc + kc == a.K;
                for (int p = g; p < gEnd; p++)
                {
                    int col = c0 + p * NR;
                    int nr = Math.Min(NR, c0 + cn - col);
                    float* panel = packed + (long)pc * cnPad + (long)p * kc * NR;
                    for (int ir = r0; ir < r1; ir += MR)
                        Tile(a, ir, Math.Min(MR, r1 - ir), col, nr, pc, kc, panel, first, last);
                }
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanel(in Args a, int n0, int nEnd, int pc, int kc, float* dst)
    {
        if (Avx2.IsSupported && n0 + NR <= nEnd && a.WType == DType.BF16 && (long)(n0 + NR) * a.Ldw < int.MaxValue)
        {
            PackPanelGather(a, n0, pc, kc, dst);
            return;
        }
        for (int j = 0; j < NR; j++)
        {
            int n = n0 + j;
            if (n >= nEnd)
            {
                for (int k = 0; k < kc; k++) dst[k * NR + j] = 0f;
                continue;
            }
            long offset = (long)n * a.Ldw + pc;
            switch (a.WType)
            {
                case DType.F32:
                {
                    float* src = (float*)a.W + offset;
                    for (int k = 0; k < kc; k++) dst[k * NR + j] = src[k];
                    break;
                }
                case DType.BF16:
                {
                    ushort* src = (ushort*)a.W + offset;
                    for (int k = 0; k < kc; k++) dst[k * NR + j] = BitConverter.Int32BitsToSingle(src[k] << 16);
                    break;
                }
                default:
                {
                    Half* src = (Half*)a.W + offset;
                    for (int k = 0; k < kc; k++) dst[k * NR + j] = (float)src[k];
                    break;
                }
            }
        }
    }

    /// <summary>
    /// A full BF16 panel (32 columns) by AVX2 gathers across the 32 weight rows, 8 columns a gather, written row by row
    /// of the panel: a gather reads 32 bits, i.e. depths k and k + 1 of each row at once (low and high half); an odd
    /// last depth is read alone (no load past a row's end). In the 8-client serve profile the packing fell from 22% to
    /// 14% of the samples (the scalar loop's strided scatter cost about what the 8–100-row products themselves did);
    /// F32 weights keep the scalar loop (one depth a gather: no faster in the embed benchmark).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void PackPanelGather(in Args a, int n0, int pc, int kc, float* dst)
    {
        var step = Vector256.Create(0, 1, 2, 3, 4, 5, 6, 7) * a.Ldw;
        var i0 = Vector256.Create(n0 * a.Ldw + pc) + step;
        var i1 = i0 + Vector256.Create(8 * a.Ldw);
        var i2 = i1 + Vector256.Create(8 * a.Ldw);
        var i3 = i2 + Vector256.Create(8 * a.Ldw);
        byte* w = (byte*)a.W;
        var high = Vector256.Create(unchecked((int)0xFFFF0000));
        int k = 0;
        for (; k + 2 <= kc; k += 2)
        {
            var kv = Vector256.Create(k);
            float* d0 = dst + k * NR, d1 = d0 + NR;
            var g0 = Avx2.GatherVector256((int*)w, i0 + kv, 2);
            var g1 = Avx2.GatherVector256((int*)w, i1 + kv, 2);
            var g2 = Avx2.GatherVector256((int*)w, i2 + kv, 2);
            var g3 = Avx2.GatherVector256((int*)w, i3 + kv, 2);
            Vector256.ShiftLeft(g0, 16).AsSingle().Store(d0);
            Vector256.ShiftLeft(g1, 16).AsSingle().Store(d0 + 8);
            Vector256.ShiftLeft(g2, 16).AsSingle().Store(d0 + 16);
            Vector256.ShiftLeft(g3, 16).AsSingle().Store(d0 + 24);
            (g0 & high).AsSingle().Store(d1);
            (g1 & high).AsSingle().Store(d1 + 8);
            (g2 & high).AsSingle().Store(d1 + 16);
            (g3 & high).AsSingle().Store(d1 + 24);
        }
        for (; k < kc; k++)
        {
            ushort* src = (ushort*)a.W + (long)n0 * a.Ldw + pc + k;
            for (int j = 0; j < NR; j++) dst[k * NR + j] = BitConverter.Int32BitsToSingle(src[(long)j * a.Ldw] << 16);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Tile(in Args a, int row, int mr, int col, int nr, int pc, int kc, float* panel, bool first, bool last)
    {
        float* c = stackalloc float[MR * NR];
        float* x = a.X + (long)row * a.Ldx + pc;
        if (Vector512.IsHardwareAccelerated)
        {
            Kernel512(x, a.Ldx, mr, panel, kc, c);
        }
        else
        {
            for (int i = 0; i < mr; i++) KernelRow(x + (long)i * a.Ldx, panel, kc, c + i * NR);
        }
        Store(a, row, mr, col, nr, c, NR, first, last);
    }

    // c[8×32] = x[rows, 0..kc) · panel; rows past mr repeat the last valid row (results discarded)
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Kernel512(float* x, int ldx, int mr, float* b, int kc, float* c)
    {
        float* x0 = x;
        float* x1 = mr > 1 ? x0 + ldx : x0;
        float* x2 = mr > 2 ? x1 + ldx : x1;
        float* x3 = mr > 3 ? x2 + ldx : x2;
        float* x4 = mr > 4 ? x3 + ldx : x3;
        float* x5 = mr > 5 ? x4 + ldx : x4;
        float* x6 = mr > 6 ? x5 + ldx : x5;
        float* x7 = mr > 7 ? x6 + ldx : x6;
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default;
        Vector512<float> c20 = default, c21 = default, c30 = default, c31 = default;
        Vector512<float> c40 = default, c41 = default, c50 = default, c51 = default;
        Vector512<float> c60 = default, c61 = default, c70 = default, c71 = default;
        for (int k = 0; k < kc; k++)
        {
            var b0 = Vector512.Load(b);
            var b1 = Vector512.Load(b + 16);
            b += NR;
            var v = Vector512.Create(x0[k]); c00 = Vector512.FusedMultiplyAdd(v, b0, c00); c01 = Vector512.FusedMultiplyAdd(v, b1, c01);
            v = Vector512.Create(x1[k]); c10 = Vector512.FusedMultiplyAdd(v, b0, c10); c11 = Vector512.FusedMultiplyAdd(v, b1, c11);
            v = Vector512.Create(x2[k]); c20 = Vector512.FusedMultiplyAdd(v, b0, c20); c21 = Vector512.FusedMultiplyAdd(v, b1, c21);
            v = Vector512.Create(x3[k]); c30 = Vector512.FusedMultiplyAdd(v, b0, c30); c31 = Vector512.FusedMultiplyAdd(v, b1, c31);
            v = Vector512.Create(x4[k]); c40 = Vector512.FusedMultiplyAdd(v, b0, c40); c41 = Vector512.FusedMultiplyAdd(v, b1, c41);
            v = Vector512.Create(x5[k]); c50 = Vector512.FusedMultiplyAdd(v, b0, c50); c51 = Vector512.FusedMultiplyAdd(v, b1, c51);
            v = Vector512.Create(x6[k]); c60 = Vector512.FusedMultiplyAdd(v, b0, c60); c61 = Vector512.FusedMultiplyAdd(v, b1, c61);
            v = Vector512.Create(x7[k]); c70 = Vector512.FusedMultiplyAdd(v, b0, c70); c71 = Vector512.FusedMultiplyAdd(v, b1, c71);
        }
        c00.Store(c); c01.Store(c + 16);
        c10.Store(c + 32); c11.Store(c + 48);
        c20.Store(c + 64); c21.Store(c + 80);
        c30.Store(c + 96); c31.Store(c + 112);
        c40.Store(c + 128); c41.Store(c + 144);
        c50.Store(c + 160); c51.Store(c + 176);
        c60.Store(c + 192); c61.Store(c + 208);
        c70.Store(c + 224); c71.Store(c + 240);
    }

    // one row: c[32] = x[0..kc) · panel (Vector256 or scalar hosts)
    private static void KernelRow(float* x, float* b, int kc, float* c)
    {
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (int k = 0; k < kc; k++, b += NR)
            {
                var v = Vector256.Create(x[k]);
                a0 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b), a0);
                a1 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + 8), a1);
                a2 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + 16), a2);
                a3 = Vector256.FusedMultiplyAdd(v, Vector256.Load(b + 24), a3);
            }
            a0.Store(c); a1.Store(c + 8); a2.Store(c + 16); a3.Store(c + 24);
            return;
        }
        for (int j = 0; j < NR; j++) c[j] = 0f;
        for (int k = 0; k < kc; k++, b += NR)
        {
            float v = x[k];
            for (int j = 0; j < NR; j++) c[j] = MathF.FusedMultiplyAdd(v, b[j], c[j]);
        }
    }

    // y tile (epilogue) c (row i at c + i·ldc): first K block adds bias (and y when accumulating), later blocks add y;
    // gelu after the last. PackedGemm stores its tiles (whole K) through it too.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Store(in Args a, int row, int mr, int col, int nr, float* c, int ldc, bool first, bool last)
    {
        bool addY = !first || a.Epilogue == MatMulEpilogue.Accumulate;
        bool gelu = last && a.Epilogue == MatMulEpilogue.Gelu;
        float* bias = first && a.Bias != null ? a.Bias + col : null;
        if (nr == NR && Vector512.IsHardwareAccelerated)
        {
            var bias0 = bias != null ? Vector512.Load(bias) : Vector512<float>.Zero;
            var bias1 = bias != null ? Vector512.Load(bias + 16) : Vector512<float>.Zero;
            for (int i = 0; i < mr; i++)
            {
                float* y = a.Y + (long)(row + i) * a.Ldy + col;
                var v0 = Vector512.Load(c + i * ldc) + bias0;
                var v1 = Vector512.Load(c + i * ldc + 16) + bias1;
                if (addY) { v0 += Vector512.Load(y); v1 += Vector512.Load(y + 16); }
                if (gelu) { v0 = v0.Apply(); v1 = v1.Apply(); }
                v0.Store(y); v1.Store(y + 16);
            }
            return;
        }
        for (int i = 0; i < mr; i++)
        {
            float* y = a.Y + (long)(row + i) * a.Ldy + col;
            for (int j = 0; j < nr; j++)
            {
                float v = c[i * ldc + j];
                if (bias != null) v += bias[j];
                if (addY) v += y[j];
                if (gelu) v = Gelu.Scalar(v);
                y[j] = v;
            }
        }
        Debug.Assert(nr <= NR && mr <= MR);
    }
}
