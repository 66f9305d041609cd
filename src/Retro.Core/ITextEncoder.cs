namespace Retro.Core;

/// <summary>A bi-encoder: texts to fixed-size embeddings (L2-normalised when the model says so).</summary>
public interface ITextEncoder
{
    /// <summary>Embedding dimension.</summary>
    int Dimension { get; }

    /// <summary>Model identity for reports and responses (folder name plus weights hash).</summary>
    string ModelId { get; }

    /// <summary>
    /// Embeds <paramref name="texts"/> into <paramref name="destination"/>, row-major (texts.Length × Dimension).
    /// Texts longer than the model's maximum are truncated. Thread-safe.
    /// </summary>
    void Encode(ReadOnlySpan<string> texts, Span<float> destination);
}
