namespace Retro.Api.Apis.Contracts;

/// <summary>Body of <c>POST /v1/retrieve</c>.</summary>
/// <param name="Query">Query text (1..MaxQuestionChars characters).</param>
/// <param name="K">Chunks returned (1..64).</param>
/// <param name="Candidates">Candidates before reranking (K..1000).</param>
/// <param name="Rerank">Rerank candidates with the cross-encoder.</param>
/// <param name="RetrievalMode"><c>dense</c>, <c>sparse</c> (BM25) or <c>hybrid</c> (both, fused); unset = <c>Retro:Retrieval:Mode</c>.</param>
public sealed record RetrieveRequest(string? Query, int? K = null, int? Candidates = null, bool? Rerank = null, string? RetrievalMode = null);
