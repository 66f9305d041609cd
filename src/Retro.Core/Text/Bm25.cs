namespace Retro.Core.Text;

/// <summary>The BM25 formulas (Robertson / Lucene form), shared by the stores, the tests and Qdrant's sparse vectors.</summary>
public static class Bm25
{
    /// <summary>idf = ln(1 + (n − df + 0.5) / (df + 0.5)) for <paramref name="documentFrequency"/> of <paramref name="documents"/> (always ≥ 0).</summary>
    public static float Idf(long documentFrequency, long documents)
        => (float)Math.Log(1.0 + (documents - documentFrequency + 0.5) / (documentFrequency + 0.5));

    /// <summary>
    /// The document side: tf · (k1 + 1) / (tf + k1 · (1 − b + b · length / averageLength)); 0 when <paramref name="tf"/> is 0.
    /// </summary>
    public static float TermWeight(int tf, int length, float averageLength, float k1, float b)
    {
        if (tf <= 0) return 0f;
        float norm = k1 * (1f - b + b * length / averageLength);
        return tf * (k1 + 1f) / (tf + norm);
    }
}
