using Retro.Core.Options;

namespace Retro.Core;

/// <summary>
/// RETRO generation: a prompt, retrieval for every completed 64-token chunk of the prompt and of the generated text,
/// and a decoder conditioned on the neighbours; streamed as events.
/// </summary>
public interface IGenerator
{
    /// <summary>Decoder model identity (folder name plus weights hash).</summary>
    string ModelId { get; }

    /// <summary>
    /// Generates from <paramref name="request"/>. Events come in order: for each completed chunk a
    /// <see cref="ChunkRetrievedEvent"/> before any <see cref="TokenGeneratedEvent"/> that attends to its neighbours,
    /// then a single final <see cref="GenerationCompletedEvent"/>. Cancelling stops decoding promptly.
    /// </summary>
    IAsyncEnumerable<GenerationEvent> GenerateAsync(GenerationRequest request, IRetriever retriever, CancellationToken cancellationToken = default);
}

/// <summary>What to generate.</summary>
/// <param name="Prompt">Prompt text (or the question, when <paramref name="IsQuestion"/>).</param>
/// <param name="Generation">Sampling and stopping.</param>
/// <param name="Retrieval">Neighbours per chunk, candidates, rerank; ignored by closed-book retrievers.</param>
/// <param name="IsQuestion">True: the question is left-padded to fill whole chunks, retrieved for as a whole, and the
/// answer starts at the next chunk (docs/architecture.md, "RETRO, precisely").</param>
public sealed record GenerationRequest(string Prompt, GenerationOptions Generation, RetrievalOptions Retrieval, bool IsQuestion = false);

/// <summary>One event of a generation stream.</summary>
public abstract record GenerationEvent;

/// <summary>Neighbours were retrieved for a completed chunk (of the prompt or of the generated text).</summary>
/// <param name="ChunkIndex">0-based index of the chunk in the token sequence.</param>
/// <param name="Query">The chunk's text, used as the retrieval query.</param>
/// <param name="Neighbours">The neighbours retrieved for this chunk, best first (empty in closed-book mode).</param>
/// <param name="Timings">What retrieving them cost.</param>
public sealed record ChunkRetrievedEvent(int ChunkIndex, string Query, IReadOnlyList<Neighbour> Neighbours, RetrievalTimings Timings) : GenerationEvent
{
    /// <summary>
    /// Per neighbour, whether the decoder reads it (the neighbour gate, <see cref="Options.RetrievalOptions.MinNeighbourMatch"/>,
    /// and the model's question layout choose); null = all of them.
    /// </summary>
    public IReadOnlyList<bool>? Read { get; init; }
}

/// <summary>A new token.</summary>
/// <param name="TokenId">The token's id in the decoder's vocabulary.</param>
/// <param name="Position">Position of the token in the whole sequence (prompt included).</param>
/// <param name="Text">The text this token adds (may be empty when it completes only part of a character).</param>
public sealed record TokenGeneratedEvent(int TokenId, int Position, string Text) : GenerationEvent;

/// <summary>The end of a generation.</summary>
/// <param name="Text">All generated text.</param>
/// <param name="FinishReason"><c>length</c>, <c>stop</c> (stop text), <c>eos</c> or <c>cancelled</c>.</param>
/// <param name="Stats">Counts and timings.</param>
public sealed record GenerationCompletedEvent(string Text, string FinishReason, GenerationStats Stats) : GenerationEvent;

/// <summary>Counts and time spent, in milliseconds.</summary>
public sealed record GenerationStats
{
    public int PromptTokens { get; init; }
    public int GeneratedTokens { get; init; }
    public int Retrievals { get; init; }
    public double RetrieveMs { get; init; }
    public double EncodeNeighboursMs { get; init; }
    public double PrefillMs { get; init; }
    public double DecodeMs { get; init; }
}
