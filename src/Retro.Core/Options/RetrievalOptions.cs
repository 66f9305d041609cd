using System.ComponentModel.DataAnnotations;

namespace Retro.Core;

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

    /// <summary>Rerank candidates with the cross-encoder.</summary>
    public bool Rerank { get; init; } = true;

    /// <summary>HNSW beam width for the search (null = the collection's default).</summary>
    [Range(1, 4096)]
    public int? Ef { get; init; }

    /// <summary>Filter applied to the search (e.g. exclude the query's own document).</summary>
    public SearchOptions? Filter { get; init; }
}
