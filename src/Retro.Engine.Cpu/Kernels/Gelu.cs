using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// Exact GELU, x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)), and erf itself, in float32 with ≤ 1e-7 absolute error on erf.
/// erf(z) for |z| &lt; 0.875 is an odd minimax-style polynomial (fitted in double, Horner with FMA); above, erf = 1 − erfc
/// with erfc(z) = t·exp(−z² + P(t)), t = 1/(1 + z/2) (Numerical Recipes' erfcc, relative error &lt; 1.2e-7).
/// For negative x the GELU uses ½·erfc directly, so tiny Φ keeps its relative accuracy.
/// </summary>
internal static class Gelu
{
    private const float Threshold = 0.875f;
    private const float InvSqrt2 = 0.70710678118654752f;
    // erf(z) = z·(C0hi + C0lo + u·P(u)), u = z², fitted on [0, 0.875]
    private const float C0Hi = 1.128379225730896f;
    private const float C0Lo = -5.872037789345086e-08f;
    private const float C1 = -0.37612637877464294f;
    private const float C2 = 0.11283744126558304f;
    private const float C3 = -0.026862144470214844f;
    private const float C4 = 0.005208075512200594f;
    private const float C5 = -0.0008225873461924493f;
    private const float C6 = 8.73762764967978e-05f;
    // erfcc exponent polynomial in t
    private const float P0 = -1.26551223f, P1 = 1.00002368f, P2 = 0.37409196f, P3 = 0.09678418f, P4 = -0.18628806f;
    private const float P5 = 0.27886807f, P6 = -1.13520398f, P7 = 1.48851587f, P8 = -0.82215223f, P9 = 0.17087277f;
    private const float MaxZ = 10f; // erfc(10) ≈ 2e-45: exp underflows to 0 beyond

    /// <summary>y = gelu(x), element-wise; y may alias x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Apply(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        ref float xr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
        ref float yr = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= x.Length - 16; i += 16)
                Vector512.LoadUnsafe(ref xr, (nuint)i).Apply().StoreUnsafe(ref yr, (nuint)i);
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= x.Length - 8; i += 8)
                Apply(Vector256.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        }
        for (; i < x.Length; i++) y[i] = Scalar(x[i]);
    }

    /// <summary>gelu(x) for one value.</summary>
    public static float Scalar(float x)
    {
        float z = MathF.Abs(x) * InvSqrt2;
        float phi;
        if (z < Threshold)
        {
            phi = 0.5f + 0.5f * MathF.CopySign(ErfSmall(z), x);
        }
        else
        {
            float erfc = Erfc(MathF.Min(z, MaxZ));
            phi = x > 0 ? 1f - 0.5f * erfc : 0.5f * erfc;
        }
        return x * phi;
    }

    /// <summary>erf(x) for one value.</summary>
    public static float Erf(float x)
    {
        float z = MathF.Abs(x);
        float e = z < Threshold ? ErfSmall(z) : 1f - Erfc(MathF.Min(z, MaxZ));
        return MathF.CopySign(e, x);
    }

    /// <summary>erf(x) element-wise.</summary>
    public static void Erf(ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; i <= x.Length - 16; i += 16) Erf(Vector512.Create(x.Slice(i, 16))).CopyTo(y.Slice(i, 16));
        }
        else if (Vector256.IsHardwareAccelerated)
        {
            for (; i <= x.Length - 8; i += 8) Erf(Vector256.Create(x.Slice(i, 8))).CopyTo(y.Slice(i, 8));
        }
        for (; i < x.Length; i++) y[i] = Erf(x[i]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ErfSmall(float z)
    {
        float u = z * z;
        float p = MathF.FusedMultiplyAdd(C6, u, C5);
        p = MathF.FusedMultiplyAdd(p, u, C4);
        p = MathF.FusedMultiplyAdd(p, u, C3);
        p = MathF.FusedMultiplyAdd(p, u, C2);
        p = MathF.FusedMultiplyAdd(p, u, C1);
        float t = MathF.FusedMultiplyAdd(u, p, C0Lo);
        return MathF.FusedMultiplyAdd(z, t, z * C0Hi);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Erfc(float z)
    {
        float t = 1f / MathF.FusedMultiplyAdd(0.5f, z, 1f);
        float p = MathF.FusedMultiplyAdd(P9, t, P8);
        p = MathF.FusedMultiplyAdd(p, t, P7);
        p = MathF.FusedMultiplyAdd(p, t, P6);
        p = MathF.FusedMultiplyAdd(p, t, P5);
        p = MathF.FusedMultiplyAdd(p, t, P4);
        p = MathF.FusedMultiplyAdd(p, t, P3);
        p = MathF.FusedMultiplyAdd(p, t, P2);
        p = MathF.FusedMultiplyAdd(p, t, P1);
        p = MathF.FusedMultiplyAdd(p, t, P0);
        return t * MathF.Exp(MathF.FusedMultiplyAdd(-z, z, p));
    }

    // ---------------------------------------------------------------- Vector512

    /// <summary>gelu of 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Apply(this Vector512<float> x)
    {
        var z = Vector512.Abs(x) * Vector512.Create(InvSqrt2);
        var small = Vector512.LessThan(z, Vector512.Create(Threshold));
        var half = Vector512.Create(0.5f);
        var erfSmall = ErfSmall(z);
        var erfc = Erfc(Vector512.Min(z, Vector512.Create(MaxZ)));
        var positive = Vector512.GreaterThan(x, Vector512<float>.Zero);
        // Φ for |z| ≥ threshold: 1 − erfc/2 (x > 0) or erfc/2 (x < 0); for small |z|: ½ + ½·sign(x)·erf(|z|)
        var phiLarge = Vector512.ConditionalSelect(positive, Vector512<float>.One - half * erfc, half * erfc);
        var signedSmall = Vector512.ConditionalSelect(positive, erfSmall, -erfSmall);
        var phiSmall = Vector512.FusedMultiplyAdd(half, signedSmall, half);
        return x * Vector512.ConditionalSelect(small, phiSmall, phiLarge);
    }

    /// <summary>erf of 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Erf(Vector512<float> x)
    {
        var z = Vector512.Abs(x);
        var small = Vector512.LessThan(z, Vector512.Create(Threshold));
        var e = Vector512.ConditionalSelect(small, ErfSmall(z), Vector512<float>.One - Erfc(Vector512.Min(z, Vector512.Create(MaxZ))));
        return Vector512.CopySign(e, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> ErfSmall(Vector512<float> z)
    {
        var u = z * z;
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(C6), u, Vector512.Create(C5));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C4));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C3));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C2));
        p = Vector512.FusedMultiplyAdd(p, u, Vector512.Create(C1));
        var t = Vector512.FusedMultiplyAdd(u, p, Vector512.Create(C0Lo));
        return Vector512.FusedMultiplyAdd(z, t, z * Vector512.Create(C0Hi));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Erfc(Vector512<float> z)
    {
        var t = FastMath.Reciprocal(Vector512.FusedMultiplyAdd(Vector512.Create(0.5f), z, Vector512<float>.One));
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(P9), t, Vector512.Create(P8));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P7));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P6));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P5));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P4));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P3));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P2));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P1));
        p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(P0));
        return t * FastMath.Exp(Vector512.FusedMultiplyAdd(-z, z, p));
    }

    // ---------------------------------------------------------------- Vector256

    /// <summary>gelu of 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Apply(Vector256<float> x)
    {
        var z = Vector256.Abs(x) * Vector256.Create(InvSqrt2);
        var small = Vector256.LessThan(z, Vector256.Create(Threshold));
        var half = Vector256.Create(0.5f);
        var erfSmall = ErfSmall(z);
        var erfc = Erfc(Vector256.Min(z, Vector256.Create(MaxZ)));
        var positive = Vector256.GreaterThan(x, Vector256<float>.Zero);
        var phiLarge = Vector256.ConditionalSelect(positive, Vector256<float>.One - half * erfc, half * erfc);
        var signedSmall = Vector256.ConditionalSelect(positive, erfSmall, -erfSmall);
        var phiSmall = Vector256.FusedMultiplyAdd(half, signedSmall, half);
        return x * Vector256.ConditionalSelect(small, phiSmall, phiLarge);
    }

    /// <summary>erf of 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Erf(Vector256<float> x)
    {
        var z = Vector256.Abs(x);
        var small = Vector256.LessThan(z, Vector256.Create(Threshold));
        var e = Vector256.ConditionalSelect(small, ErfSmall(z), Vector256<float>.One - Erfc(Vector256.Min(z, Vector256.Create(MaxZ))));
        return Vector256.CopySign(e, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> ErfSmall(Vector256<float> z)
    {
        var u = z * z;
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(C6), u, Vector256.Create(C5));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C4));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C3));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C2));
        p = Vector256.FusedMultiplyAdd(p, u, Vector256.Create(C1));
        var t = Vector256.FusedMultiplyAdd(u, p, Vector256.Create(C0Lo));
        return Vector256.FusedMultiplyAdd(z, t, z * Vector256.Create(C0Hi));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Erfc(Vector256<float> z)
    {
        var t = Vector256<float>.One / Vector256.FusedMultiplyAdd(Vector256.Create(0.5f), z, Vector256<float>.One);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(P9), t, Vector256.Create(P8));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P7));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P6));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P5));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P4));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P3));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P2));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P1));
        p = Vector256.FusedMultiplyAdd(p, t, Vector256.Create(P0));
        return t * FastMath.Exp(Vector256.FusedMultiplyAdd(-z, z, p));
    }
}
