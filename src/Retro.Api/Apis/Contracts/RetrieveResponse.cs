namespace Retro.Api.Apis.Contracts;

/// <summary>Result of <c>POST /v1/retrieve</c>: the best chunks, best first.</summary>
/// <param name="Query">The query.</param>
/// <param name="Neighbours">Chunks, best first (reranked when asked and a cross-encoder is loaded).</param>
/// <param name="Timings">Where the time went.</param>
/// <param name="Models">Model identities.</param>
public sealed record RetrieveResponse(string Query, IReadOnlyList<NeighbourInfo> Neighbours, Timings Timings, ModelIds Models);
