using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retro.VectorStore.Metrics;

/// <summary>
/// Distance kernels over raw pointers (the HNSW hot path). Vector512, then Vector256, then scalar; four independent
/// accumulators hide the FMA latency. Callers guarantee both operands hold <c>n</c> elements.
/// </summary>
internal static unsafe class VectorMath
{
    /// <summary>Inner product of two float vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Dot(float* a, float* b, int n)
    {
        int i = 0;
        float sum;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i <= n - 64; i += 64)
            {
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 16), Vector512.Load(b + i + 16), s1);
                s2 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 32), Vector512.Load(b + i + 32), s2);
                s3 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i + 48), Vector512.Load(b + i + 48), s3);
            }
            for (; i <= n - 16; i += 16) s0 = Vector512.FusedMultiplyAdd(Vector512.Load(a + i), Vector512.Load(b + i), s0);
            sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i <= n - 32; i += 32)
            {
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
                s1 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 8), Vector256.Load(b + i + 8), s1);
                s2 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 16), Vector256.Load(b + i + 16), s2);
                s3 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i + 24), Vector256.Load(b + i + 24), s3);
            }
            for (; i <= n - 8; i += 8) s0 = Vector256.FusedMultiplyAdd(Vector256.Load(a + i), Vector256.Load(b + i), s0);
            sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        }
        else
        {
            sum = 0;
        }
        for (; i < n; i++) sum += a[i] * b[i];
        return sum;
    }

    /// <summary>Squared Euclidean distance of two float vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float L2Squared(float* a, float* b, int n)
    {
        int i = 0;
        float sum;
        if (Vector512.IsHardwareAccelerated && n >= 16)
        {
            Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default;
            for (; i <= n - 64; i += 64)
            {
                var d0 = Vector512.Load(a + i) - Vector512.Load(b + i);
                var d1 = Vector512.Load(a + i + 16) - Vector512.Load(b + i + 16);
                var d2 = Vector512.Load(a + i + 32) - Vector512.Load(b + i + 32);
                var d3 = Vector512.Load(a + i + 48) - Vector512.Load(b + i + 48);
                s0 = Vector512.FusedMultiplyAdd(d0, d0, s0);
                s1 = Vector512.FusedMultiplyAdd(d1, d1, s1);
                s2 = Vector512.FusedMultiplyAdd(d2, d2, s2);
                s3 = Vector512.FusedMultiplyAdd(d3, d3, s3);
            }
            for (; i <= n - 16; i += 16)
            {
                var d = Vector512.Load(a + i) - Vector512.Load(b + i);
                s0 = Vector512.FusedMultiplyAdd(d, d, s0);
            }
            sum = Vector512.Sum((s0 + s1) + (s2 + s3));
        }
        else if (Vector256.IsHardwareAccelerated && n >= 8)
        {
            Vector256<float> s0 = default, s1 = default;
            for (; i <= n - 16; i += 16)
            {
                var d0 = Vector256.Load(a + i) - Vector256.Load(b + i);
                var d1 = Vector256.Load(a + i + 8) - Vector256.Load(b + i + 8);
                s0 = Vector256.FusedMultiplyAdd(d0, d0, s0);
                s1 = Vector256.FusedMultiplyAdd(d1, d1, s1);
            }
            for (; i <= n - 8; i += 8)
            {
                var d = Vector256.Load(a + i) - Vector256.Load(b + i);
                s0 = Vector256.FusedMultiplyAdd(d, d, s0);
            }
            sum = Vector256.Sum(s0 + s1);
        }
        else
        {
            sum = 0;
        }
        for (; i < n; i++)
        {
            float d = a[i] - b[i];
            sum += d * d;
        }
        return sum;
    }

    /// <summary>Σ q[i]·codes[i] with unsigned 8-bit codes (asymmetric int8 distance: float query, int8 point).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float DotU8(float* q, byte* codes, int n)
    {
        int i = 0;
        float sum;
        if (Avx512F.IsSupported && n >= 16)
        {
            Vector512<float> s0 = default, s1 = default;
            for (; i <= n - 32; i += 32)
            {
                var c0 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(codes + i)));
                var c1 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(codes + i + 16)));
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(q + i), c0, s0);
                s1 = Vector512.FusedMultiplyAdd(Vector512.Load(q + i + 16), c1, s1);
            }
            for (; i <= n - 16; i += 16)
            {
                var c0 = Avx512F.ConvertToVector512Single(Avx512F.ConvertToVector512Int32(Vector128.Load(codes + i)));
                s0 = Vector512.FusedMultiplyAdd(Vector512.Load(q + i), c0, s0);
            }
            sum = Vector512.Sum(s0 + s1);
        }
        else if (Avx2.IsSupported && n >= 8)
        {
            Vector256<float> s0 = default;
            for (; i <= n - 8; i += 8)
            {
                var c = Avx.ConvertToVector256Single(Avx2.ConvertToVector256Int32(codes + i));
                s0 = Vector256.FusedMultiplyAdd(Vector256.Load(q + i), c, s0);
            }
            sum = Vector256.Sum(s0);
        }
        else
        {
            sum = 0;
        }
        for (; i < n; i++) sum += q[i] * codes[i];
        return sum;
    }

    /// <summary>
    /// Σ codes[i]·q[i] of unsigned 8-bit codes and a signed 8-bit query, exact in int32 (n ≤ 66,000), with AVX-VNNI's
    /// vpdpbusd: 32 products per instruction, no widening. Callers check <see cref="AvxVnni"/>.IsSupported.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int DotU8S8(sbyte* q, byte* codes, int n)
    {
        int i = 0;
        Vector256<int> s0 = default, s1 = default, s2 = default, s3 = default;
        for (; i <= n - 128; i += 128)
        {
            s0 = AvxVnni.MultiplyWideningAndAdd(s0, Vector256.Load(codes + i), Vector256.Load(q + i));
            s1 = AvxVnni.MultiplyWideningAndAdd(s1, Vector256.Load(codes + i + 32), Vector256.Load(q + i + 32));
            s2 = AvxVnni.MultiplyWideningAndAdd(s2, Vector256.Load(codes + i + 64), Vector256.Load(q + i + 64));
            s3 = AvxVnni.MultiplyWideningAndAdd(s3, Vector256.Load(codes + i + 96), Vector256.Load(q + i + 96));
        }
        for (; i <= n - 32; i += 32) s0 = AvxVnni.MultiplyWideningAndAdd(s0, Vector256.Load(codes + i), Vector256.Load(q + i));
        int sum = Vector256.Sum((s0 + s1) + (s2 + s3));
        for (; i < n; i++) sum += codes[i] * q[i];
        return sum;
    }

    /// <summary>Scales <paramref name="v"/> to unit L2 norm in place; a zero vector stays zero.</summary>
    public static void Normalize(Span<float> v)
    {
        float norm = TensorPrimitives.Norm(v);
        if (norm > 0f && float.IsFinite(norm)) TensorPrimitives.Divide(v, norm, v);
    }

    /// <summary>Prefetches every cache line of [p, p + bytes) into L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void PrefetchRange(void* p, int bytes)
    {
        if (!Sse.IsSupported) return;
        for (int o = 0; o < bytes; o += 64) Sse.Prefetch0((byte*)p + o);
    }

    /// <summary>Prefetches the first cache lines of a vector into L1 (hnswlib prefetches the next candidate).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Prefetch(void* p)
    {
        if (Sse.IsSupported)
        {
            Sse.Prefetch0(p);
            Sse.Prefetch0((byte*)p + 64);
        }
    }
}
