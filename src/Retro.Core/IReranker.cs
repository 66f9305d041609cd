namespace Retro.Core;

/// <summary>A cross-encoder: scores (query, candidate) pairs jointly; higher is more relevant.</summary>
public interface IReranker
{
    /// <summary>Model identity for reports and responses.</summary>
    string ModelId { get; }

    /// <summary>Writes one score per candidate into <paramref name="scores"/>. Thread-safe.</summary>
    void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores);
}
