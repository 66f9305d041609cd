namespace Retro.Api.Apis.Contracts;

/// <summary>Body of <c>POST /v1/answer</c>. Unset fields take the configured defaults.</summary>
/// <param name="Question">The question (1..MaxQuestionChars characters).</param>
/// <param name="Mode"><c>retrieval</c> (default) or <c>closed-book</c>.</param>
/// <param name="K">Neighbours per chunk (1..64).</param>
/// <param name="Candidates">Candidates taken from the vector store before reranking (K..1000).</param>
/// <param name="Rerank">Rerank candidates with the cross-encoder.</param>
/// <param name="MaxTokens">New tokens at most (1..MaxTokensLimit).</param>
/// <param name="Temperature">0 = greedy (0..10).</param>
/// <param name="TopP">Nucleus mass (0, 1].</param>
/// <param name="Seed">Sampler seed.</param>
/// <param name="Stream">True: answer as Server-Sent Events (retrieval, token, done).</param>
/// <param name="RetrievalMode"><c>dense</c>, <c>sparse</c> (BM25) or <c>hybrid</c> (both, fused); unset = <c>Retro:Retrieval:Mode</c>.</param>
/// <param name="TopK">Keep the best K tokens (0 = off).</param>
/// <param name="RepetitionPenalty">CTRL repetition penalty (1..10; 1 = off).</param>
/// <param name="NoRepeatNgramSize">No n-gram of this many tokens repeats (0..64; 0 = off).</param>
public sealed record AnswerRequest(
    string? Question,
    string? Mode = null,
    int? K = null,
    int? Candidates = null,
    bool? Rerank = null,
    int? MaxTokens = null,
    float? Temperature = null,
    float? TopP = null,
    ulong? Seed = null,
    bool Stream = false,
    string? RetrievalMode = null,
    int? TopK = null,
    float? RepetitionPenalty = null,
    int? NoRepeatNgramSize = null);
