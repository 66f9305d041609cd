namespace Retro.Api.Apis.Contracts;

/// <summary>Time spent, in milliseconds. Retrieval stages are summed over all chunks.</summary>
/// <param name="EmbedMs">Bi-encoder embedding of the queries.</param>
/// <param name="SearchMs">Vector search.</param>
/// <param name="FetchMs">Fetching chunk payloads.</param>
/// <param name="RerankMs">Cross-encoder reranking.</param>
/// <param name="EncodeNeighboursMs">Decoder steps that encoded neighbours (neighbour encoder plus that step).</param>
/// <param name="PrefillMs">Feeding the prompt, not counting waits for retrieval.</param>
/// <param name="DecodeMs">Generating tokens, not counting retrieval.</param>
/// <param name="TotalMs">The whole request as the server saw it.</param>
public sealed record Timings(
    double EmbedMs,
    double SearchMs,
    double FetchMs,
    double RerankMs,
    double EncodeNeighboursMs,
    double PrefillMs,
    double DecodeMs,
    double TotalMs);
