namespace Retro.Eval.Metrics;

/// <summary>
/// Bits-per-byte accumulator: Σ −log2 p(token) over predicted tokens divided by the UTF-8 bytes of the text those
/// tokens cover. Not thread-safe.
/// </summary>
internal sealed class BitsPerByte
{
    /// <summary>Sum of −log2 p over the added tokens.</summary>
    public double Bits { get; private set; }

    /// <summary>UTF-8 bytes covered by the added tokens.</summary>
    public long Bytes { get; private set; }

    /// <summary>Tokens added.</summary>
    public long Tokens { get; private set; }

    /// <summary>Bits per byte; NaN before any byte was added.</summary>
    public double Value => Bytes == 0 ? double.NaN : Bits / Bytes;

    /// <summary>Adds one predicted token: its −log2 probability and the bytes of text it newly covers.</summary>
    public void Add(double bits, int bytes)
    {
        if (double.IsNaN(bits) || bits < 0) throw new ArgumentOutOfRangeException(nameof(bits), bits, "bits must be ≥ 0");
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        Bits += bits;
        Bytes += bytes;
        Tokens++;
    }

    /// <summary>−log2 softmax(<paramref name="logits"/>)[<paramref name="target"/>], computed stably in double.</summary>
    public static double NegLog2Prob(ReadOnlySpan<float> logits, int target)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(target);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(target, logits.Length);
        float max = float.NegativeInfinity;
        foreach (float l in logits) if (l > max) max = l;
        double sum = 0;
        foreach (float l in logits) sum += Math.Exp(l - max);
        double logp = logits[target] - max - Math.Log(sum);
        return -logp / Math.Log(2);
    }
}
