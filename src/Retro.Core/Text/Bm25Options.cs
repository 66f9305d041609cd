using System.ComponentModel.DataAnnotations;

namespace Retro.Core.Text;

/// <summary>
/// BM25 over chunk text: how text becomes terms (fixed per collection: changing it needs a re-index) and the scoring
/// parameters. Stored with the collection spec. Persisted by name; do not rename members.
/// </summary>
public sealed record Bm25Options
{
    /// <summary>Term-frequency saturation k1 (≥ 0; 0 = binary).</summary>
    [Range(0.0, 10.0)]
    public float K1 { get; init; } = 1.2f;

    /// <summary>Length normalisation b in [0, 1] (0 = none, 1 = full).</summary>
    [Range(0.0, 1.0)]
    public float B { get; init; } = 0.75f;

    /// <summary>
    /// Weight of the title field (BM25F): a title term counts as this many occurrences in the chunk, and the title adds
    /// this many times its length to the chunk's length; 0 leaves titles out of BM25. Part of the analysis: changing it
    /// needs a re-index.
    /// </summary>
    [Range(0, 16)]
    public int TitleWeight { get; init; } = 3;

    /// <summary>Drop English stop words (Lucene's 33-word list).</summary>
    public bool StopWords { get; init; }

    /// <summary>Stem English plurals (Harman's S-stemmer, as Lucene's EnglishMinimalStemmer).</summary>
    public bool Stemming { get; init; }

    /// <summary>
    /// Average document length in terms assumed where the index cannot measure it (Qdrant's sparse vectors carry the
    /// document side of BM25, computed at upsert). The embedded store measures it and ignores this.
    /// </summary>
    [Range(1.0, 100000.0)]
    public float AverageLength { get; init; } = 48f;

    /// <summary>Whether <paramref name="other"/> turns text into the same terms (k1, b and the average may differ).</summary>
    public bool SameAnalysis(Bm25Options other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return StopWords == other.StopWords && Stemming == other.Stemming && TitleWeight == other.TitleWeight;
    }

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when a parameter is out of range.</summary>
    public void Validate()
    {
        if (!(K1 >= 0 && K1 <= 10)) throw new ArgumentOutOfRangeException(nameof(K1), K1, "BM25 k1 must be in [0, 10]");
        if (!(B >= 0 && B <= 1)) throw new ArgumentOutOfRangeException(nameof(B), B, "BM25 b must be in [0, 1]");
        if (TitleWeight is < 0 or > 16) throw new ArgumentOutOfRangeException(nameof(TitleWeight), TitleWeight, "BM25 title weight must be in [0, 16]");
        if (!(AverageLength >= 1)) throw new ArgumentOutOfRangeException(nameof(AverageLength), AverageLength, "BM25 average length must be ≥ 1");
    }
}
