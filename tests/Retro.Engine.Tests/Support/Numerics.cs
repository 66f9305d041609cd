namespace Retro.Engine.Tests.Support;

/// <summary>Reference maths in double and comparison helpers with informative failures.</summary>
internal static class Numerics
{
    public static float[] Random(int count, int seed, float scale = 1f)
    {
        var rng = new Random(seed);
        var values = new float[count];
        for (int i = 0; i < count; i++) values[i] = (float)(rng.NextDouble() * 2 - 1) * scale;
        return values;
    }

    /// <summary>Round-to-nearest-even float → bfloat16 bits (as PyTorch does).</summary>
    public static ushort ToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        uint rounding = 0x7FFF + ((bits >> 16) & 1);
        return (ushort)((bits + rounding) >> 16);
    }

    /// <summary>erf in double: Taylor series below 3, continued fraction for erfc above.</summary>
    public static double Erf(double x)
    {
        double z = Math.Abs(x);
        double result;
        if (z < 3)
        {
            double sum = 0, term = z;
            for (int n = 0; n < 200; n++)
            {
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-18) break;
                term *= -z * z / (n + 1);
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc(z) = exp(−z²)/√π · 1/(z + 1/2/(z + 1/(z + 3/2/(z + ...)))) evaluated bottom-up
            double f = z;
            for (int n = 60; n >= 1; n--) f = z + n / 2.0 / f;
            result = 1 - Math.Exp(-z * z) / Math.Sqrt(Math.PI) / f;
        }
        return Math.CopySign(result, x);
    }

    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>Fails with the tensor's name, the largest difference, its index and both values when max|a−e|/max|e| &gt; tolerance.</summary>
    public static void ShouldBeClose(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected, double tolerance, string name)
    {
        actual.Length.ShouldBe(expected.Length, $"{name}: length");
        double maxRef = 1e-6, maxDiff = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
            double d = Math.Abs((double)actual[i] - expected[i]);
            if (double.IsNaN(d) || d > maxDiff) { maxDiff = double.IsNaN(d) ? double.PositiveInfinity : d; at = i; }
        }
        double relative = maxDiff / maxRef;
        if (!(relative <= tolerance))
            throw new ShouldAssertException(
                $"{name}: relative error {relative:E3} > {tolerance:E1} (max |diff| {maxDiff:E3} at index {at}: ours {actual[at]}, reference {expected[at]}; max |ref| {maxRef:E3})");
    }
}
