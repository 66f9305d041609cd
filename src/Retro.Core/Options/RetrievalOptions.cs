using System.ComponentModel.DataAnnotations;

namespace Retro.Core.Options;

/// <summary>Section <c>Retro:Retrieval</c>: how many neighbours, from how many candidates, reranked or not.</summary>
public sealed record RetrievalOptions
{
    public const string Section = "Retro:Retrieval";

    /// <summary>Neighbours per chunk given to the decoder (RETRO's k).</summary>
    [Range(1, 64)]
    public int K { get; init; } = 2;

    /// <summary>Candidates taken from the vector store before reranking (≥ K).</summary>
    [Range(1, 1000)]
    public int Candidates { get; init; } = 16;

    /// <summary>Rerank the candidates with the reranker of <c>Retro:Models:Reranker</c> (the learned ranker or a cross-encoder).</summary>
    public bool Rerank { get; init; } = true;

    /// <summary>
    /// How much the cross-encoder decides the reranked order, w in [0, 1]: candidates are ordered by
    /// (1 − w) / (k + first-stage rank) + w / (k + cross-encoder rank), k = <see cref="RrfK"/>, ranks 1-based.
    /// 1 = the cross-encoder's order alone; 0 = the first stage's order (the cross-encoder only adds its scores).
    /// A reranker that already weighs the first stage's order (the learned ranker, <see cref="IReranker.WeighsFirstStage"/>)
    /// ignores it: its order is used alone.
    /// </summary>
    [Range(0.0, 1.0)]
    public float RerankWeight { get; init; } = 1f;

    /// <summary>
    /// The neighbour gate, in [0, 1]: the neighbours of a chunk of the text (the prompt's chunks and the generated
    /// ones) condition the next chunk only when the longest token run they share with the chunk they were retrieved for
    /// covers at least this share of it (<see cref="NeighbourGate"/>). 0 = every neighbour is read. A question's own
    /// neighbours (the passage it is answered from) are always read.
    /// </summary>
    [Range(0.0, 1.0)]
    public double MinNeighbourMatch { get; init; }

    /// <summary>
    /// The neighbour gate's tail test, in tokens (0 = off): a neighbour of a chunk of the text is read only when it holds
    /// the chunk's last this many tokens in a row, where the next chunk would start if it continues the text
    /// (<see cref="NeighbourGate.HasTail"/>). A question's own neighbours are always read.
    /// </summary>
    [Range(0, 64)]
    public int NeighbourTail { get; init; }

    /// <summary>
    /// Mix the decoder's neighbour copy (its fitted <c>neighbour_copy</c>, when it has one) into the next-token
    /// distribution: where the text just written runs on in a retrieved neighbour, the token that follows there gains
    /// weight by how long the run is (docs/training.md, "The neighbour copy"). Every retrieved neighbour of the chunk
    /// before is a candidate, read or not. A question's own passages are not copied from (the decoder answers from them).
    /// false = the decoder's distribution alone.
    /// </summary>
    public bool NeighbourCopy { get; init; } = true;

    /// <summary>HNSW beam width for the search (null = the collection's default).</summary>
    [Range(1, 4096)]
    public int? Ef { get; init; }

    /// <summary>Filter applied to the search (e.g. exclude the query's own document); both sides in hybrid mode.</summary>
    public SearchOptions? Filter { get; init; }

    /// <summary>Dense (default), sparse (BM25) or hybrid (both, fused) candidate search.</summary>
    public RetrievalMode Mode { get; init; } = RetrievalMode.Dense;

    /// <summary>How hybrid mode merges the two lists (each side fetches <see cref="Candidates"/>).</summary>
    public FusionMethod Fusion { get; init; } = FusionMethod.Rrf;

    /// <summary>RRF's k: a hit at 1-based rank r adds 1 / (k + r).</summary>
    [Range(1, 100000)]
    public int RrfK { get; init; } = 60;

    /// <summary>Hybrid fusion's dense weight w in [0, 1] (sparse gets 1 − w), in weighted RRF and in weighted score fusion.</summary>
    [Range(0.0, 1.0)]
    public float DenseWeight { get; init; } = 0.5f;
}
