namespace Retro.Core;

/// <summary>
/// A reranker: scores (query, candidate) pairs jointly; higher is more relevant. The cross-encoder
/// (<c>Retro.Engine.Bert.BertReranker</c>) and the learned ranker (<see cref="Ranking.LexicalRanker"/>) are the two.
/// </summary>
public interface IReranker
{
    /// <summary>Model identity for reports and responses.</summary>
    string ModelId { get; }

    /// <summary>Writes one score per candidate into <paramref name="scores"/>. Thread-safe.</summary>
    void Score(string query, ReadOnlySpan<string> candidates, Span<float> scores);

    /// <summary>
    /// Scores retrieved candidates, given in first-stage order. By default each candidate's
    /// <see cref="Chunk.RetrievalText()"/> (title and text, as embedded) through the text overload.
    /// </summary>
    void Score(string query, IReadOnlyList<Neighbour> candidates, Span<float> scores)
    {
        ArgumentNullException.ThrowIfNull(candidates);
        var texts = new string[candidates.Count];
        for (int i = 0; i < texts.Length; i++) texts[i] = candidates[i].Chunk.RetrievalText();
        Score(query, texts, scores);
    }

    /// <summary>
    /// Whether the scores already weigh the candidates' first-stage order (they arrive in it): the retriever then orders
    /// by the scores alone instead of fusing them with the first stage's ranks (<see cref="Options.RetrievalOptions.RerankWeight"/>).
    /// </summary>
    bool WeighsFirstStage => false;
}
