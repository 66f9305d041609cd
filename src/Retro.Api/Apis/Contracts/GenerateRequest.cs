namespace Retro.Api.Apis.Contracts;

/// <summary>Body of <c>POST /v1/generate</c>: continue a prompt. Unset fields take the configured defaults.</summary>
/// <param name="Prompt">Text to continue (1..MaxPromptChars characters).</param>
/// <param name="Mode"><c>retrieval</c> (default) or <c>closed-book</c>.</param>
/// <param name="K">Neighbours per chunk (1..64).</param>
/// <param name="Candidates">Candidates before reranking (K..1000).</param>
/// <param name="Rerank">Rerank candidates with the cross-encoder.</param>
/// <param name="MaxTokens">New tokens at most (1..MaxTokensLimit).</param>
/// <param name="Temperature">0 = greedy (0..10).</param>
/// <param name="TopP">Nucleus mass (0, 1].</param>
/// <param name="TopK">Keep the best K tokens (0 = off).</param>
/// <param name="Seed">Sampler seed.</param>
/// <param name="Stop">Stop texts (at most 4, each 1..64 characters); the stop text is not returned.</param>
/// <param name="Stream">True: Server-Sent Events (retrieval at every chunk boundary, token, done).</param>
/// <param name="RetrievalMode"><c>dense</c>, <c>sparse</c> (BM25) or <c>hybrid</c> (both, fused); unset = <c>Retro:Retrieval:Mode</c>.</param>
/// <param name="RepetitionPenalty">CTRL repetition penalty (1..10; 1 = off).</param>
/// <param name="NoRepeatNgramSize">No n-gram of this many tokens repeats (0..64; 0 = off).</param>
public sealed record GenerateRequest(
    string? Prompt,
    string? Mode = null,
    int? K = null,
    int? Candidates = null,
    bool? Rerank = null,
    int? MaxTokens = null,
    float? Temperature = null,
    float? TopP = null,
    int? TopK = null,
    ulong? Seed = null,
    IReadOnlyList<string>? Stop = null,
    bool Stream = false,
    string? RetrievalMode = null,
    float? RepetitionPenalty = null,
    int? NoRepeatNgramSize = null);
