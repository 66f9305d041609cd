using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Retro.Engine.Cpu.Kernels;

/// <summary>Row-wise layer norm, two passes (mean, then centred variance) in float, like PyTorch's CPU kernel.</summary>
internal static unsafe class LayerNorm
{
    /// <summary>y = (x − mean)/sqrt(var + eps)·gamma + beta for one row of <paramref name="n"/> values; y may alias x.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Row(float* x, float* gamma, float* beta, float eps, float* y, int n)
    {
        var xs = new ReadOnlySpan<float>(x, n);
        float mean = TensorPrimitives.Sum(xs) / n;
        float variance = 0f;
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(mean);
            var acc = Vector512<float>.Zero;
            for (; i <= n - 16; i += 16)
            {
                var d = Vector512.Load(x + i) - m;
                acc = Vector512.FusedMultiplyAdd(d, d, acc);
            }
            variance = Vector512.Sum(acc);
        }
        for (; i < n; i++)
        {
            float d = x[i] - mean;
            variance += d * d;
        }
        variance /= n;
        float rstd = 1f / MathF.Sqrt(variance + eps);
        i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var m = Vector512.Create(mean);
            var r = Vector512.Create(rstd);
            for (; i <= n - 16; i += 16)
            {
                var v = (Vector512.Load(x + i) - m) * r;
                Vector512.FusedMultiplyAdd(v, Vector512.Load(gamma + i), Vector512.Load(beta + i)).Store(y + i);
            }
        }
        for (; i < n; i++) y[i] = (x[i] - mean) * rstd * gamma[i] + beta[i];
    }
}
