using System.ComponentModel;

namespace Retro.Api.Apis.Contracts;

/// <summary>
/// What the bodies of <c>POST /v1/answer</c> (<see cref="AnswerRequest"/>) and <c>POST /v1/generate</c>
/// (<see cref="GenerateRequest"/>) share: how to retrieve, how to sample, whether to stream. Unset fields take the
/// configured defaults.
/// </summary>
public abstract record GenerationRequestBody
{
    /// <summary><c>retrieval</c> (default) or <c>closed-book</c>.</summary>
    public string? Mode { get; init; }

    /// <summary>Neighbours per chunk (1..64).</summary>
    public int? K { get; init; }

    /// <summary>Candidates taken from the vector store before reranking (K..1000).</summary>
    public int? Candidates { get; init; }

    /// <summary>Rerank candidates with the cross-encoder.</summary>
    public bool? Rerank { get; init; }

    /// <summary>New tokens at most (1..MaxTokensLimit).</summary>
    public int? MaxTokens { get; init; }

    /// <summary>0 = greedy (0..10).</summary>
    public float? Temperature { get; init; }

    /// <summary>Nucleus mass (0, 1].</summary>
    public float? TopP { get; init; }

    /// <summary>Keep the best K tokens (0 = off).</summary>
    public int? TopK { get; init; }

    /// <summary>Sampler seed.</summary>
    public ulong? Seed { get; init; }

    /// <summary>True: Server-Sent Events (a retrieval event at every chunk boundary, tokens, done).</summary>
    [DefaultValue(false)]
    public bool Stream { get; init; }

    /// <summary><c>dense</c>, <c>sparse</c> (BM25) or <c>hybrid</c> (both, fused); unset = <c>Retro:Retrieval:Mode</c>.</summary>
    public string? RetrievalMode { get; init; }

    /// <summary>
    /// The neighbour gate (0..1; 0 = off): a chunk's neighbours are read only when they repeat at least this share of it
    /// as one run of tokens; a question's own neighbours are always read. Unset = <c>Retro:Retrieval:MinNeighbourMatch</c>.
    /// </summary>
    public double? MinNeighbourMatch { get; init; }

    /// <summary>
    /// The neighbour gate's tail test (0..64 tokens; 0 = off): a chunk's neighbours are read only when they hold the
    /// chunk's last this many tokens in a row. Unset = <c>Retro:Retrieval:NeighbourTail</c>.
    /// </summary>
    public int? NeighbourTail { get; init; }

    /// <summary>
    /// Mix the decoder's neighbour copy into the next-token distribution (when the decoder has one): where the text runs
    /// on in a retrieved neighbour, the token that follows there gains weight. Unset = <c>Retro:Retrieval:NeighbourCopy</c>.
    /// </summary>
    public bool? NeighbourCopy { get; init; }

    /// <summary>CTRL repetition penalty (1..10; 1 = off).</summary>
    public float? RepetitionPenalty { get; init; }

    /// <summary>No n-gram of this many tokens repeats (0..64; 0 = off).</summary>
    public int? NoRepeatNgramSize { get; init; }
}
