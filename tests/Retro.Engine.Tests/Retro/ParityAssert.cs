namespace Retro.Engine.Tests.Retro;

/// <summary>Relative-error comparison of tensors with messages naming the tensor, the error and where it is.</summary>
internal static class ParityAssert
{
    /// <summary>max|ours − ref| / max(max|ref|, 1e-6) ≤ tolerance over rows × columns values (row-major).</summary>
    public static void Close(string tensor, ReadOnlySpan<float> expected, ReadOnlySpan<float> actual, int columns, double tolerance,
        string rowName = "position", string columnName = "vocab index")
    {
        actual.Length.ShouldBe(expected.Length, $"{tensor}: length");
        double maxRef = 1e-6, maxDiff = 0;
        int at = -1;
        for (int i = 0; i < expected.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
            double diff = Math.Abs((double)actual[i] - expected[i]);
            if (!(diff <= maxDiff)) { maxDiff = diff; at = i; } // NaN lands here too
        }
        double rel = maxDiff / maxRef;
        if (!(rel <= tolerance))
        {
            throw new ShouldAssertException(
                $"{tensor}: relative error {rel:E3} > {tolerance:E1} (max |diff| {maxDiff:E3}, max |ref| {maxRef:E3}) " +
                $"at {rowName} {at / columns}, {columnName} {at % columns}: ours {actual[at]}, reference {expected[at]}");
        }
    }

    /// <summary>Relative error of <paramref name="actual"/> against <paramref name="expected"/>.</summary>
    public static double RelativeError(ReadOnlySpan<float> expected, ReadOnlySpan<float> actual)
    {
        double maxRef = 1e-6, maxDiff = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            maxRef = Math.Max(maxRef, Math.Abs(expected[i]));
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
        }
        return maxDiff / maxRef;
    }
}
