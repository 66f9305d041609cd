using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// y[M×N] (epilogue) x[M×K]·w[N×K]ᵀ + bias for small M (decoding): memory-bound, so weights are converted BF16 → F32
/// in registers and streamed with software prefetch, four weight rows per pass (independent streams and FMA chains),
/// each weight vector used for up to four activation rows at once (batched decoding). Parallel over column ranges.
/// </summary>
internal static unsafe class Gemv
{
    private const int ColumnsPerPart = 64;
    [ThreadStatic] private static GemvJob? t_job;
    [ThreadStatic] private static float* t_row;
    [ThreadStatic] private static int t_rowLength;

    /// <summary>Runs on <paramref name="pool"/>; assumes validated shapes.</summary>
    public static void Run(WorkerPool pool, in Gemm.Args a)
    {
        int parts = Math.Max(1, Math.Min((a.N + ColumnsPerPart - 1) / ColumnsPerPart, 4 * pool.Parallelism));
        if ((long)a.N * a.K < 32 * 1024) parts = 1; // too small to be worth waking a thread
        var job = t_job ??= new GemvJob();
        job.A = a;
        pool.Run(job, parts);
        job.A = default;
    }

    private sealed class GemvJob : ParallelJob
    {
        public Gemm.Args A;

        public override void Execute(int part, int parts)
        {
            int n0 = (int)((long)A.N * part / parts), n1 = (int)((long)A.N * (part + 1) / parts);
            Columns(A, n0, n1);
        }
    }

    /// <summary>Columns [n0, n1) of every row, single-threaded.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static void Columns(in Gemm.Args a, int n0, int n1)
    {
        float* sums = stackalloc float[16];
        int n = n0;
        if (a.WType != DType.F16 && Avx512F.IsSupported)
        {
            // four weight rows (independent streams and FMA chains) × up to four activation rows per pass (one when
            // decoding, a few when decoding a batch): each weight vector is loaded and widened once for all rows,
            // and the weight streams are prefetched (without it each 4 KiB page of weights starts cold)
            long rowBytes = (long)a.Ldw * DTypes.SizeOf(a.WType);
            bool bf16 = a.WType == DType.BF16;
            for (; n + 4 <= n1; n += 4)
            {
                byte* w0 = (byte*)a.W + n * rowBytes;
                for (int i0 = 0; i0 < a.M; i0 += 4)
                {
                    int rows = Math.Min(4, a.M - i0);
                    float* x = a.X + (long)i0 * a.Ldx;
                    switch (rows, bf16)
                    {
                        case (4, true): Dot4xR<Rows4, Bf16Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                        case (3, true): Dot4xR<Rows3, Bf16Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                        case (2, true): Dot4xR<Rows2, Bf16Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                        case (1, true): Dot4xR<Rows1, Bf16Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                        case (4, false): Dot4xR<Rows4, F32Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                        case (3, false): Dot4xR<Rows3, F32Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                        case (2, false): Dot4xR<Rows2, F32Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                        default: Dot4xR<Rows1, F32Weights>(w0, rowBytes, x, a.Ldx, a.K, sums); break;
                    }
                    for (int r = 0; r < rows; r++)
                        for (int j = 0; j < 4; j++) StoreOne(a, i0 + r, n + j, sums[r * 4 + j]);
                }
            }
        }
        for (; n < n1; n++)
        {
            void* wRow = (byte*)a.W + (long)n * a.Ldw * DTypes.SizeOf(a.WType);
            for (int i0 = 0; i0 < a.M; i0 += 4)
            {
                int rows = Math.Min(4, a.M - i0);
                float* x = a.X + (long)i0 * a.Ldx;
                switch (a.WType)
                {
                    case DType.F32: DotF32((float*)wRow, x, a.Ldx, rows, a.K, sums); break;
                    case DType.BF16: DotBF16((ushort*)wRow, x, a.Ldx, rows, a.K, sums); break;
                    default: DotF32(ConvertF16((Half*)wRow, a.K), x, a.Ldx, rows, a.K, sums); break;
                }
                for (int r = 0; r < rows; r++) StoreOne(a, i0 + r, n, sums[r]);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreOne(in Gemm.Args a, int row, int n, float sum)
    {
        float* y = a.Y + (long)row * a.Ldy + n;
        float v = sum + (a.Bias != null ? a.Bias[n] : 0f);
        *y = a.Epilogue switch
        {
            MatMulEpilogue.Accumulate => *y + v,
            MatMulEpilogue.Gelu => Gelu.Scalar(v),
            _ => v,
        };
    }

    /// <summary>How 16 weights at element <c>i</c> of a row become 16 floats (and how wide a weight is).</summary>
    private interface IWeightLoad
    {
        static abstract int Bytes { get; }
        static abstract Vector512<float> Load(byte* row, int i);
        static abstract float Scalar(byte* row, int i);
    }

    private struct Bf16Weights : IWeightLoad
    {
        public static int Bytes => 2;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i) => Widen((ushort*)row + i);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, int i) => BitConverter.Int32BitsToSingle(((ushort*)row)[i] << 16);
    }

    private struct F32Weights : IWeightLoad
    {
        public static int Bytes => 4;
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(byte* row, int i) => Vector512.Load((float*)row + i);
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static float Scalar(byte* row, int i) => ((float*)row)[i];
    }

    /// <summary>
    /// sums[r·4 + j] = x[r]·w[j] for the four weight rows at <paramref name="w0"/> (<paramref name="rowBytes"/> apart)
    /// and the first <typeparamref name="TRows"/> activation rows at <paramref name="x"/> (<paramref name="ldx"/> apart).
    /// AVX-512 only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Dot4xR<TRows, TWeights>(byte* w0, long rowBytes, float* x, int ldx, int k, float* sums)
        where TRows : struct, IRowCount where TWeights : struct, IWeightLoad
    {
        int rows = TRows.Count;
        byte* w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
        float* x0 = x, x1 = x + ldx, x2 = x1 + ldx, x3 = x2 + ldx;
        long ahead = PrefetchRows * rowBytes;
        int lineMask = 64 / (16 * TWeights.Bytes) - 1; // iterations per 64-byte line of weights, minus 1
        Vector512<float> a00 = default, a01 = default, a02 = default, a03 = default;
        Vector512<float> a10 = default, a11 = default, a12 = default, a13 = default;
        Vector512<float> a20 = default, a21 = default, a22 = default, a23 = default;
        Vector512<float> a30 = default, a31 = default, a32 = default, a33 = default;
        int i = 0;
        for (; i <= k - 16; i += 16)
        {
            if (((i >> 4) & lineMask) == 0)
            {
                long o = ahead + (long)i * TWeights.Bytes;
                Sse.Prefetch0(w0 + o);
                Sse.Prefetch0(w1 + o);
                Sse.Prefetch0(w2 + o);
                Sse.Prefetch0(w3 + o);
            }
            var b0 = TWeights.Load(w0, i);
            var b1 = TWeights.Load(w1, i);
            var b2 = TWeights.Load(w2, i);
            var b3 = TWeights.Load(w3, i);
            var xv = Vector512.Load(x0 + i);
            a00 = Vector512.FusedMultiplyAdd(b0, xv, a00); a01 = Vector512.FusedMultiplyAdd(b1, xv, a01);
            a02 = Vector512.FusedMultiplyAdd(b2, xv, a02); a03 = Vector512.FusedMultiplyAdd(b3, xv, a03);
            if (rows > 1)
            {
                xv = Vector512.Load(x1 + i);
                a10 = Vector512.FusedMultiplyAdd(b0, xv, a10); a11 = Vector512.FusedMultiplyAdd(b1, xv, a11);
                a12 = Vector512.FusedMultiplyAdd(b2, xv, a12); a13 = Vector512.FusedMultiplyAdd(b3, xv, a13);
            }
            if (rows > 2)
            {
                xv = Vector512.Load(x2 + i);
                a20 = Vector512.FusedMultiplyAdd(b0, xv, a20); a21 = Vector512.FusedMultiplyAdd(b1, xv, a21);
                a22 = Vector512.FusedMultiplyAdd(b2, xv, a22); a23 = Vector512.FusedMultiplyAdd(b3, xv, a23);
            }
            if (rows > 3)
            {
                xv = Vector512.Load(x3 + i);
                a30 = Vector512.FusedMultiplyAdd(b0, xv, a30); a31 = Vector512.FusedMultiplyAdd(b1, xv, a31);
                a32 = Vector512.FusedMultiplyAdd(b2, xv, a32); a33 = Vector512.FusedMultiplyAdd(b3, xv, a33);
            }
        }
        sums[0] = Vector512.Sum(a00); sums[1] = Vector512.Sum(a01); sums[2] = Vector512.Sum(a02); sums[3] = Vector512.Sum(a03);
        if (rows > 1) { sums[4] = Vector512.Sum(a10); sums[5] = Vector512.Sum(a11); sums[6] = Vector512.Sum(a12); sums[7] = Vector512.Sum(a13); }
        if (rows > 2) { sums[8] = Vector512.Sum(a20); sums[9] = Vector512.Sum(a21); sums[10] = Vector512.Sum(a22); sums[11] = Vector512.Sum(a23); }
        if (rows > 3) { sums[12] = Vector512.Sum(a30); sums[13] = Vector512.Sum(a31); sums[14] = Vector512.Sum(a32); sums[15] = Vector512.Sum(a33); }
        for (; i < k; i++)
        {
            float v0 = TWeights.Scalar(w0, i), v1 = TWeights.Scalar(w1, i), v2 = TWeights.Scalar(w2, i), v3 = TWeights.Scalar(w3, i);
            for (int r = 0; r < rows; r++)
            {
                float xv = x[(long)r * ldx + i];
                sums[r * 4] += v0 * xv; sums[r * 4 + 1] += v1 * xv; sums[r * 4 + 2] += v2 * xv; sums[r * 4 + 3] += v3 * xv;
            }
        }
    }

    /// <summary>
    /// Software prefetch distance of <see cref="Dot4xR"/>, in weight rows. Hardware prefetchers stop at 4 KiB page
    /// boundaries, and a group of four rows of K = 512 BF16 weights is one page: without this the loads of every
    /// group start cold.
    /// </summary>
    internal const int PrefetchRows = 16;

    // 16 bf16 → zero-extend to 32 bits → shift into the high half: exact f32
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Widen(ushort* w) =>
        Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(w)), 16).AsSingle();

    private static float* ConvertF16(Half* w, int k)
    {
        if (t_rowLength < k)
        {
            NativeMemory.AlignedFree(t_row);
            t_row = (float*)NativeMemory.AlignedAlloc((nuint)(k * sizeof(float)), 64);
            t_rowLength = k;
        }
        for (int i = 0; i < k; i++) t_row[i] = (float)w[i];
        return t_row;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotF32(float* w, float* x, int ldx, int rows, int k, float* sums)
    {
        float* x1 = rows > 1 ? x + ldx : x, x2 = rows > 2 ? x1 + ldx : x1, x3 = rows > 3 ? x2 + ldx : x2;
        int i = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= k - 16; i += 16)
            {
                var wv = Vector512.Load(w + i);
                a0 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x1 + i), a1);
                a2 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x2 + i), a2);
                a3 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x3 + i), a3);
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= k - 8; i += 8)
            {
                var wv = Vector256.Load(w + i);
                a0 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x1 + i), a1);
                a2 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x2 + i), a2);
                a3 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x3 + i), a3);
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        for (; i < k; i++)
        {
            float wv = w[i];
            s0 += wv * x[i]; s1 += wv * x1[i]; s2 += wv * x2[i]; s3 += wv * x3[i];
        }
        sums[0] = s0; sums[1] = s1; sums[2] = s2; sums[3] = s3;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void DotBF16(ushort* w, float* x, int ldx, int rows, int k, float* sums)
    {
        float* x1 = rows > 1 ? x + ldx : x, x2 = rows > 2 ? x1 + ldx : x1, x3 = rows > 3 ? x2 + ldx : x2;
        int i = 0;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        if (Avx512F.IsSupported)
        {
            Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= k - 16; i += 16)
            {
                // 16 bf16 → zero-extend to 32 bits → shift into the high half: exact f32
                var wv = Avx512F.ShiftLeftLogical(Avx512F.ConvertToVector512UInt32(Vector256.Load(w + i)), 16).AsSingle();
                a0 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x + i), a0);
                a1 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x1 + i), a1);
                a2 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x2 + i), a2);
                a3 = Vector512.FusedMultiplyAdd(wv, Vector512.Load(x3 + i), a3);
            }
            s0 = Vector512.Sum(a0); s1 = Vector512.Sum(a1); s2 = Vector512.Sum(a2); s3 = Vector512.Sum(a3);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            Vector256<float> a0 = default, a1 = default, a2 = default, a3 = default;
            for (; i <= k - 8; i += 8)
            {
                var wv = Vector256.ShiftLeft(Vector256.WidenLower(Vector128.Load(w + i).ToVector256()), 16).AsSingle();
                a0 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x + i), a0);
                a1 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x1 + i), a1);
                a2 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x2 + i), a2);
                a3 = Vector256.FusedMultiplyAdd(wv, Vector256.Load(x3 + i), a3);
            }
            s0 = Vector256.Sum(a0); s1 = Vector256.Sum(a1); s2 = Vector256.Sum(a2); s3 = Vector256.Sum(a3);
        }
        for (; i < k; i++)
        {
            float wv = BitConverter.Int32BitsToSingle(w[i] << 16);
            s0 += wv * x[i]; s1 += wv * x1[i]; s2 += wv * x2[i]; s3 += wv * x3[i];
        }
        sums[0] = s0; sums[1] = s1; sums[2] = s2; sums[3] = s3;
    }
}
