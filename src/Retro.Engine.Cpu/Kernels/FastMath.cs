using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>
/// Float exp and reciprocal for hot kernels, in registers. The runtime's Vector512.Exp widens to double for
/// accuracy, which costs several times more; this exp is Cephes' expf (Cody–Waite reduction, degree-5 polynomial,
/// 2ⁿ through the exponent bits), within 2 ulp on [−87.3, 88.3]; exactly 0 below (so −inf gives 0, as a mask
/// needs) and clamped above.
/// </summary>
internal static class FastMath
{
    private const float Log2E = 1.44269504088896341f;
    private const float Ln2Hi = 0.693359375f, Ln2Lo = -2.12194440e-4f;
    private const float MinX = -87.3f, MaxX = 88.3f;
    private const float E0 = 1.9875691500e-4f, E1 = 1.3981999507e-3f, E2 = 8.3334519073e-3f;
    private const float E3 = 4.1665795894e-2f, E4 = 1.6666665459e-1f, E5 = 5.0000001201e-1f;

    /// <summary>e^x for 16 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var underflow = Vector512.LessThan(x, Vector512.Create(MinX));
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(MinX)), Vector512.Create(MaxX));
        var n = Vector512.Round(x * Vector512.Create(Log2E));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.FusedMultiplyAdd(Vector512.Create(E0), r, Vector512.Create(E1));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E2));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E3));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E4));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(E5));
        p = Vector512.FusedMultiplyAdd(p, r * r, r) + Vector512<float>.One;
        // 2^n: n + 127 into the exponent field (n ∈ [−126, 127] after the clamp)
        var twoN = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(127), 23).AsSingle();
        return Vector512.AndNot(p * twoN, underflow);
    }

    /// <summary>e^x for 8 lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector256<float> Exp(Vector256<float> x)
    {
        var underflow = Vector256.LessThan(x, Vector256.Create(MinX));
        x = Vector256.Min(Vector256.Max(x, Vector256.Create(MinX)), Vector256.Create(MaxX));
        var n = Vector256.Round(x * Vector256.Create(Log2E));
        var r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Hi), x);
        r = Vector256.FusedMultiplyAdd(n, Vector256.Create(-Ln2Lo), r);
        var p = Vector256.FusedMultiplyAdd(Vector256.Create(E0), r, Vector256.Create(E1));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E2));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E3));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E4));
        p = Vector256.FusedMultiplyAdd(p, r, Vector256.Create(E5));
        p = Vector256.FusedMultiplyAdd(p, r * r, r) + Vector256<float>.One;
        var twoN = Vector256.ShiftLeft(Vector256.ConvertToInt32(n) + Vector256.Create(127), 23).AsSingle();
        return Vector256.AndNot(p * twoN, underflow);
    }

    /// <summary>1/d for 16 lanes: 14-bit estimate refined by one Newton step (≈ 1 ulp), or a division without AVX-512.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Reciprocal(Vector512<float> d)
    {
        if (!Avx512F.IsSupported) return Vector512<float>.One / d;
        var r = Avx512F.Reciprocal14(d);
        return r * Vector512.FusedMultiplyAdd(-d, r, Vector512.Create(2f));
    }
}
